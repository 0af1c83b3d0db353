"""The read side for views and the API: search and suggest for a user, visibility enforced.

Views call these and nothing else; the backend comes from ``search.backends.get_backend``, and
``search.freshness.hide_pending`` hides what a pending (not yet indexed) change made invisible.
When the engine cannot answer, ``SearchUnavailable`` propagates and the caller shows a clear
degraded notice (the database backend is not kept in step while Elasticsearch is configured,
so falling back to it would show stale results).
"""

from __future__ import annotations

from repository.choices import AccessStatus, Carrier, Retention
from repository.models import Category, Fonds
from search.analysis import parse_query
from search.backends import get_backend
from search.freshness import hide_pending
from search.highlight import highlight
from search.models import PageText
from search.query import (
    SUGGEST_SIZE,
    PageMatch,
    SearchRequest,
    SearchResult,
    Suggestion,
    Visibility,
)

CHOICE_LABELS = {
    "carrier": dict(Carrier.choices),
    "retention": dict(Retention.choices),
    "access_status": dict(AccessStatus.choices),
}


def _label_facets(result: SearchResult) -> None:
    fonds_ids = [b.value for b in result.facets.get("fonds", [])]
    category_ids = [b.value for b in result.facets.get("category", [])]
    fonds = {f.pk: str(f) for f in Fonds.objects.filter(pk__in=fonds_ids)} if fonds_ids else {}
    categories = (
        {c.pk: f"{c.code} {c.name}" for c in Category.objects.filter(pk__in=category_ids)}
        if category_ids
        else {}
    )
    for name, buckets in result.facets.items():
        for bucket in buckets:
            if name == "fonds":
                bucket.label = fonds.get(bucket.value, str(bucket.value))
            elif name == "category":
                bucket.label = categories.get(bucket.value, str(bucket.value))
            elif name in CHOICE_LABELS:
                bucket.label = str(CHOICE_LABELS[name].get(bucket.value, bucket.value))
            else:
                bucket.label = str(bucket.value)
        if name == "year":
            buckets.sort(key=lambda b: b.value, reverse=True)


def search_records(user, request: SearchRequest) -> SearchResult:
    """Search as ``user`` sees the catalogue (the ``visible_to`` rules inside the query)."""
    result = get_backend().search(request, hide_pending(Visibility.for_user(user), user))
    _label_facets(result)
    _match_pages(result, request)
    return result


def _match_pages(result: SearchResult, request: SearchRequest) -> None:
    """Give each hit the first *released* page whose text holds the query (page number and
    snippet), as the index does: a withheld page is never read here either."""
    terms = parse_query(request.query).terms()
    if not terms or not result.hits:
        return
    wanted = {(hit.kind, hit.pk): hit for hit in result.hits}
    for kind in ("item", "volume"):
        pks = [pk for k, pk in wanted if k == kind]
        if not pks:
            continue
        field = f"page__{kind}_id"
        rows = (
            PageText.objects.filter(
                **{f"{field}__in": pks}, status=PageText.Status.DONE, page__withheld=False
            )
            .exclude(text="")
            .order_by(field, "page__page_number")
            .values_list(field, "page_id", "page__page_number", "text")
        )
        for pk, page_id, number, text in rows:
            hit = wanted[(kind, pk)]
            if hit.page is not None:
                continue
            snippet = highlight(text, terms, fragment=True)
            if snippet:
                hit.page = PageMatch(page_id=page_id, number=number, snippet=snippet)


def suggest_records(user, prefix: str, *, size: int = SUGGEST_SIZE) -> list[Suggestion]:
    visibility = hide_pending(Visibility.for_user(user), user)
    return get_backend().suggest(prefix[:100], visibility, size=size)
