"""Filtered record lists for every door (staff page, public pages, API, export).

Every list starts from ``Model.objects.visible_to(user)``. Lists are paged by keyset on the
unique ``reference_code`` (``after=<last code>``): page 10,000 costs what page 1 costs, and no
list page runs an exact ``COUNT`` over the big tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from accounts.choices import Classification
from core.input import ID_MAX, parse_int
from repository.choices import AccessStatus
from repository.models import Item, Volume

KINDS = {"volume": Volume, "item": Item}
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
LIST_FIELDS = (
    "id",
    "reference_code",
    "title",
    "creator",
    "date_start",
    "date_end",
    "date_precision",
    "filing_year",
    "retention",
    "classification",
    "access_status",
    "carrier",
    "fonds_id",
    "category_id",
    "position_id",
)


@dataclass
class Filters:
    kind: str = "item"
    fonds: str = ""  # fonds code
    category: int | None = None
    volume: int | None = None
    q: str = ""
    access_status: str = ""
    classification: int | None = None
    year: int | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_query(cls, params, *, default_kind: str = "item") -> Filters:
        f = cls(kind=params.get("kind") or default_kind)
        if f.kind not in KINDS:
            f.errors["kind"] = "volume | item"
            f.kind = default_kind
        f.fonds = (params.get("fonds") or "").strip()[:20]
        f.q = (params.get("q") or "").strip()[:100]
        status = params.get("access_status") or ""
        if status and status in AccessStatus.values:
            f.access_status = status
        bounds = {"category": ID_MAX, "volume": ID_MAX, "classification": 9, "year": 9999}
        for name, highest in bounds.items():
            raw = (params.get(name) or "").strip()
            setattr(f, name, parse_int(raw, min_value=0, max_value=highest, field=name))
        if f.classification is not None and f.classification not in Classification.values:
            f.classification = None
        return f

    def apply(self, qs: QuerySet) -> QuerySet:
        if self.fonds:
            qs = qs.filter(fonds__code=self.fonds)
        if self.category is not None:
            qs = qs.filter(category_id=self.category)
        if self.volume is not None and self.kind == "item":
            qs = qs.filter(volume_id=self.volume)
        if self.access_status:
            qs = qs.filter(access_status=self.access_status)
        if self.classification is not None:
            qs = qs.filter(classification=self.classification)
        if self.year is not None:
            qs = qs.filter(filing_year=self.year)
        if self.q:
            # A code-like query is a prefix on the indexed code; otherwise the title.
            if any(ch.isdigit() for ch in self.q) and " " not in self.q and "-" in self.q:
                qs = qs.filter(reference_code__startswith=self.q)
            else:
                qs = qs.filter(title__icontains=self.q)
        return qs

    def as_query(self) -> dict[str, Any]:
        out = {"kind": self.kind}
        for name in ("fonds", "q", "access_status"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("category", "volume", "classification", "year"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


def page_size(params) -> int:
    """``?size=N`` (clamped to 1…MAX_PAGE_SIZE by ``keyset_page``); 400 for a non-number."""
    size = parse_int(params.get("size"), min_value=0, max_value=10**9, field="size")
    return PAGE_SIZE if size is None else size


def visible_records(user, filters: Filters) -> QuerySet:
    model = KINDS[filters.kind]
    qs = filters.apply(model.objects.visible_to(user))
    if model is Item:
        # An open item may lie in a volume the user may not see: its volume's code comes
        # through the volume's own door (``volume_code``, "" when hidden; the exports print it).
        door = Volume.objects.visible_to(user).filter(pk=OuterRef("volume_id"))
        qs = qs.annotate(volume_code=Subquery(door.values("reference_code")[:1]))
    return qs


@dataclass
class KeysetPage:
    rows: list
    next_after: str | None
    has_previous: bool


def keyset_page(qs: QuerySet, *, after: str = "", size: int = PAGE_SIZE) -> KeysetPage:
    """One page ordered by reference code, starting after ``after``; one query (size + 1)."""
    size = max(1, min(int(size), MAX_PAGE_SIZE))
    if after:
        qs = qs.filter(reference_code__gt=after)
    rows = list(qs.order_by("reference_code")[: size + 1])
    has_next = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        rows=rows,
        next_after=rows[-1].reference_code if has_next and rows else None,
        has_previous=bool(after),
    )
