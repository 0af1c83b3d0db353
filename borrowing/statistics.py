"""利用统计: monthly counts of requests by purpose and user type, and of records by fonds."""

from __future__ import annotations

from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from borrowing.choices import RequestState, UserType
from borrowing.models import AccessRequest, RequestLine, UsePurpose, without_jit
from repository.models import Fonds


def monthly(year: int, *, user) -> dict:
    """Rows ``{month, dimension, label, count}`` and chart series for one calendar year.

    Counted: submitted requests (not drafts) by the month they were submitted, of the requests
    ``user`` handles (``AccessRequest.objects.handled_by``: every record of a counted request is
    visible to them), so a count never reveals requests behind the door.
    """
    with without_jit():  # the door's anti-join over a year of requests: see ``without_jit``
        return _monthly(year, user=user)


def _monthly(year: int, *, user) -> dict:
    requests = (
        AccessRequest.objects.handled_by(user)
        .filter(submitted_at__year=year)
        .exclude(state=RequestState.DRAFT)
    )
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    rows = []
    series: dict[str, dict[str, list[int]]] = {"purpose": {}, "user_type": {}, "fonds": {}}

    def add(dimension: str, label: str, month, count: int) -> None:
        key = f"{month:%Y-%m}"
        rows.append({"month": key, "dimension": dimension, "label": label, "count": count})
        series[dimension].setdefault(label, [0] * 12)[month.month - 1] += count

    purposes = {p.pk: p.name for p in UsePurpose.objects.all()}
    labels = {"purpose": {None: _("Not recorded"), **purposes}, "user_type": dict(UserType.choices)}
    for field in ("purpose", "user_type"):
        qs = (
            requests.annotate(month=TruncMonth("submitted_at"))
            .values("month", field)
            .annotate(n=Count("id"))
            .order_by("month", field)
        )
        for row in qs:
            add(field, str(labels[field].get(row[field], row[field])), row["month"], row["n"])
    fonds_names = dict(Fonds.objects.values_list("pk", "code"))
    line_stats = {}
    for kind in ("item", "volume"):
        qs = (
            RequestLine.objects.filter(request__in=requests, **{f"{kind}__isnull": False})
            .annotate(month=TruncMonth("request__submitted_at"))
            .values("month", f"{kind}__fonds")
            .annotate(n=Count("id"))
        )
        for row in qs:
            key = (row["month"], row[f"{kind}__fonds"])
            line_stats[key] = line_stats.get(key, 0) + row["n"]
    for (month, fonds_id), count in sorted(line_stats.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        add("fonds", fonds_names.get(fonds_id, str(fonds_id)), month, count)
    return {"months": months, "rows": rows, "series": series, "total": requests.count()}
