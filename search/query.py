"""The one query model of Lantai's search: what a caller asks, who asks, and what comes back.

``Visibility.for_user`` reproduces ``repository.querysets.RecordQuerySet.visible_to`` exactly;
each backend turns it into filter clauses of the query itself, so totals, facets, highlights,
suggestions and pages never count a hidden record.

``parse_search_params`` is the edge: it turns request parameters into a ``SearchRequest`` or
raises ``SearchInputError`` with a reason per parameter (answered as a 400).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from accounts.choices import Classification
from core.input import ID_MAX, InvalidInput, parse_int
from repository.choices import PUBLIC_STATUSES, AccessStatus, Carrier, Retention
from repository.querysets import visible_fonds_ids

MAX_QUERY_LENGTH = 200  # characters; longer queries are refused with a reason
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_WINDOW = 10_000  # page × size beyond this must use the cursor (search_after)
TOTAL_CAP = 10_000  # totals are counted exactly up to here, then shown as "10,000+"
SUGGEST_SIZE = 8

FACETS = ("fonds", "category", "year", "carrier", "retention", "access_status")
FACET_FIELDS = {
    "fonds": "fonds_id",
    "category": "category_id",
    "year": "year",
    "carrier": "carrier",
    "retention": "retention",
    "access_status": "access_status",
}
SORTS = ("relevance", "date", "-date", "code")
CHOICE_FILTERS = {
    "carrier": {c.value for c in Carrier},
    "retention": {c.value for c in Retention},
    "access_status": {c.value for c in AccessStatus},
    "kind": {"item", "volume"},
}
ID_FILTERS = ("fonds", "category", "year")


class SearchInputError(ValueError):
    """Bad search parameters: ``errors`` maps a parameter to its reasons."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Visibility:
    """Who asks. ``public_only``: open + unclassified only. Otherwise staff see those plus
    records of ``fonds_ids`` (``None`` = every fonds) up to ``clearance``. ``hidden``: documents
    the index still shows but the database no longer lets this caller see (the index is behind
    a change that narrowed visibility: ``search.freshness``); every backend excludes them inside
    the query, so no result, total, facet or suggestion counts them."""

    public_only: bool = True
    fonds_ids: tuple[int, ...] | None = ()
    clearance: int = Classification.NONE
    hidden: tuple[str, ...] = ()

    @classmethod
    def for_user(cls, user) -> Visibility:
        if user is None or not user.is_authenticated or not user.is_archive_staff:
            return cls()
        ids = visible_fonds_ids(user)
        return cls(
            public_only=False,
            fonds_ids=None if ids is None else tuple(ids),
            clearance=int(user.clearance),
        )

    def permits(self, classification: int | None, fonds_id: int | None) -> bool:
        """A staff rule of the door on one record's own columns: cleared to its 密级 and
        permitted on its fonds."""
        if self.public_only or classification is None or fonds_id is None:
            return False
        in_fonds = self.fonds_ids is None or fonds_id in self.fonds_ids
        return in_fonds and classification <= self.clearance

    def allows(self, doc: dict[str, Any]) -> bool:
        """The record door (``repository.querysets.record_door``) on a document, as every
        backend writes it in its query: the item passes on its own columns (public, or
        permitted) *and* on its volume's (``volume_fonds_id`` is None: no volume, or a public
        one; else permitted on the volume's 密级 and fonds). Written out:

            is_public
            or (permitted(own) and (no guarding volume or permitted(volume)))
            or (own columns public and permitted(volume))

        ``is_public`` (the item's and its volume's public rule, stored) stands for "own public
        and no guarding volume", so that a document indexed before the volume columns existed
        (``volume_fonds_id`` None) is seen as it was until ``search_reindex`` rewrites it."""
        if doc.get("doc_id") in self.hidden:
            return False
        if doc["is_public"]:
            return True
        if self.public_only:
            return False
        volume = self.permits(doc.get("volume_classification"), doc.get("volume_fonds_id"))
        if self.permits(doc["classification"], doc["fonds_id"]):
            return doc.get("volume_fonds_id") is None or volume
        own_public = doc["access_status"] in PUBLIC_STATUSES and not doc["classification"]
        return own_public and volume


@dataclass
class SearchRequest:
    query: str = ""
    filters: dict[str, Any] = field(default_factory=dict)
    facets: tuple[str, ...] = ()
    sort: str = "relevance"
    page: int = 1
    size: int = DEFAULT_PAGE_SIZE
    after: list[Any] | None = None  # decoded cursor: the sort values of the last hit
    highlight: bool = True

    @property
    def offset(self) -> int:
        return 0 if self.after is not None else (self.page - 1) * self.size


@dataclass
class PageMatch:
    """The first released page of a hit whose text (OCR) holds the query: its number and an
    escaped snippet with ``<mark>``."""

    page_id: int
    number: int
    snippet: str


@dataclass
class Hit:
    doc: dict[str, Any]
    score: float | None = None
    highlights: dict[str, list[str]] = field(default_factory=dict)
    sort_values: list[Any] = field(default_factory=list)
    page: PageMatch | None = None

    @property
    def kind(self) -> str:
        return self.doc["kind"]

    @property
    def pk(self) -> int:
        return self.doc["pk"]


@dataclass
class FacetBucket:
    value: Any
    count: int
    label: str = ""


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    total_exact: bool = True  # False: at least ``total`` (counting stopped at the cap)
    facets: dict[str, list[FacetBucket]] = field(default_factory=dict)
    facets_exact: bool = True  # False: bucket counts are estimates from a uniform sample
    next_cursor: str | None = None
    page: int = 1
    size: int = DEFAULT_PAGE_SIZE


@dataclass
class Suggestion:
    text: str
    reference_code: str
    kind: str
    pk: int


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise SearchInputError({"cursor": [_("Not a valid cursor.")]}) from exc
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or not isinstance(decoded[1], str)
        or not all(v is None or isinstance(v, int | float | str) for v in decoded)
    ):
        raise SearchInputError({"cursor": [_("Not a valid cursor.")]})
    return decoded


def _int(value: str, name: str, errors: dict[str, list[str]]) -> int | None:
    """ASCII digits only, bounded (``core.input.parse_int``): ``int()`` read "٣" and numbers
    of any length, which then overflowed the database or the search engine."""
    try:
        number = parse_int(value, min_value=-ID_MAX, max_value=ID_MAX, field=name)
    except InvalidInput:
        number = None
    if number is None:
        errors.setdefault(name, []).append(_("Must be a whole number."))
    return number


def _values(params, name: str) -> list[str]:
    """Repeated (``?carrier=a&carrier=b``) or comma-separated parameter values."""
    getlist = getattr(params, "getlist", None)
    raw = getlist(name) if getlist else ([params[name]] if name in params else [])
    values: list[str] = []
    for item in raw:
        values.extend(v.strip() for v in str(item).split(",") if v.strip())
    return values


def parse_search_params(params, *, default_facets: tuple[str, ...] = ()) -> SearchRequest:
    """Validate request parameters (a QueryDict or a dict) into a ``SearchRequest``."""
    errors: dict[str, list[str]] = {}
    request = SearchRequest(facets=default_facets)

    query = str(params.get("q", "") or "")
    if len(query) > MAX_QUERY_LENGTH:
        errors["q"] = [
            _("The query is too long (at most %(max)d characters).") % {"max": MAX_QUERY_LENGTH}
        ]
    request.query = query.strip()

    if "page" in params:
        page = _int(params.get("page"), "page", errors)
        if page is not None and page < 1:
            errors.setdefault("page", []).append(_("Pages start at 1."))
        elif page is not None:
            request.page = page
    if "size" in params:
        size = _int(params.get("size"), "size", errors)
        if size is not None and not 1 <= size <= MAX_PAGE_SIZE:
            errors.setdefault("size", []).append(
                _("Between 1 and %(max)d results per page.") % {"max": MAX_PAGE_SIZE}
            )
        elif size is not None:
            request.size = size
    if "page" not in errors and request.page * request.size > MAX_WINDOW:
        errors.setdefault("page", []).append(
            _("Too deep for page numbers: follow the next-page cursor instead.")
        )

    sort = str(params.get("sort", "") or "relevance")
    if sort not in SORTS:
        errors["sort"] = [_("Unknown sort; use one of: %(sorts)s.") % {"sorts": ", ".join(SORTS)}]
    request.sort = sort

    cursor = params.get("cursor")
    if cursor:
        try:
            request.after = decode_cursor(str(cursor))
        except SearchInputError as exc:
            errors.update(exc.errors)

    if "facets" in params:
        facets = _values(params, "facets")
        unknown = [f for f in facets if f not in FACETS]
        if unknown:
            errors["facets"] = [
                _("Unknown facet %(names)s; known facets: %(known)s.")
                % {"names": ", ".join(unknown)[:100], "known": ", ".join(FACETS)}
            ]
        request.facets = tuple(dict.fromkeys(f for f in facets if f in FACETS))

    filters: dict[str, Any] = {}
    for name in ID_FILTERS:
        values = _values(params, name)
        if values:
            ids = [_int(v, name, errors) for v in values[:50]]
            filters[name] = [i for i in ids if i is not None]
    for name, allowed in CHOICE_FILTERS.items():
        values = _values(params, name)
        if values:
            bad = [v for v in values if v not in allowed]
            if bad:
                errors[name] = [
                    _("Unknown value %(values)s; use one of: %(allowed)s.")
                    % {"values": ", ".join(bad)[:100], "allowed": ", ".join(sorted(allowed))}
                ]
            filters[name] = [v for v in values if v in allowed]
    for name in ("year_from", "year_to"):
        if params.get(name) not in (None, ""):
            year = _int(params.get(name), name, errors)
            if year is not None and not 1 <= year <= 9999:
                errors.setdefault(name, []).append(_("Not a plausible year."))
            elif year is not None:
                filters[name] = year
    request.filters = filters

    if errors:
        raise SearchInputError(errors)
    return request
