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
from search.backends import get_backend
from search.freshness import hide_pending
from search.query import SUGGEST_SIZE, SearchRequest, SearchResult, Suggestion, Visibility

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
    result = get_backend().search(request, hide_pending(Visibility.for_user(user)))
    _label_facets(result)
    return result


def suggest_records(user, prefix: str, *, size: int = SUGGEST_SIZE) -> list[Suggestion]:
    visibility = hide_pending(Visibility.for_user(user))
    return get_backend().suggest(prefix[:100], visibility, size=size)
