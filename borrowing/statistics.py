"""利用统计 and the use section of the 档案统计年报.

Counted on the basis the annual report asks for (国家档案局《档案统计年报》"档案利用" 部分):

- 利用人次: requests in which something was actually used (an original handed out, a copy or
  a certificate handed over) — one request is one person's visit;
- 利用人数: different persons among them;
- 卷次 / 件次: approved lines of those requests that were used, volumes and items apart;
- 复制页数: pages of the copies handed over; 出具证明: certificates (and certified copies)
  issued;
- refused (未批准) and cancelled (已撤销) requests, and those still waiting, are counted apart
  and never in the figures above.

Only requests the viewer handles are counted (``AccessRequest.objects.handled_by``: every
record of a counted request is visible to them), so a figure never reveals a request behind
the door. The year and month are those of submission.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Font

from borrowing.choices import LineDecision, RequestState, UseMethod, UserType
from borrowing.models import AccessRequest, Loan, RequestLine, UsePurpose, without_jit
from core.output import xlsx_cell
from repository.models import Fonds

# name -> (label, definition): printed under the figures and in the export.
FIGURES = {
    "persons": (
        gettext_lazy("Person-visits"),
        gettext_lazy(
            "Requests in which records were used (an original handed out, a copy or "
            "a certificate handed over); one request is one visit."
        ),
    ),
    "people": (
        gettext_lazy("Persons"),
        gettext_lazy("Different readers among those visits."),
    ),
    "volume_uses": (
        gettext_lazy("Volume-uses"),
        gettext_lazy("Approved and used request lines naming a volume (案卷)."),
    ),
    "item_uses": (
        gettext_lazy("Item-uses"),
        gettext_lazy("Approved and used request lines naming an item (件)."),
    ),
    "copy_pages": (
        gettext_lazy("Pages copied"),
        gettext_lazy("Pages of the copies handed over."),
    ),
    "certificates": (
        gettext_lazy("Certificates issued"),
        gettext_lazy("Archival certificates and certified copies issued, each numbered."),
    ),
    "refused": (
        gettext_lazy("Requests refused"),
        gettext_lazy("Requests refused as a whole; not counted as uses."),
    ),
    "cancelled": (
        gettext_lazy("Requests cancelled"),
        gettext_lazy("Requests cancelled by the reader or the desk; not counted as uses."),
    ),
    "waiting": (
        gettext_lazy("Requests not yet used"),
        gettext_lazy("Submitted requests still waiting for a decision or for the visit."),
    ),
}


def monthly(year: int, *, user) -> dict:
    """The year's figures, their breakdowns and rows ``{month, dimension, label, count}``."""
    with without_jit():  # the door's anti-join over a year of requests: see ``without_jit``
        return _annual(year, user=user)


def _used_line_q() -> Q:
    loaned = Exists(Loan.objects.filter(line=OuterRef("pk")))
    return Q(decision=LineDecision.APPROVED) & (Q(loaned) | Q(served_at__isnull=False))


def _annual(year: int, *, user) -> dict:
    requests = (
        AccessRequest.objects.handled_by(user)
        .filter(submitted_at__year=year)
        .exclude(state=RequestState.DRAFT)
    )
    used_lines = RequestLine.objects.filter(request__in=requests).filter(_used_line_q())
    used = requests.filter(Exists(used_lines.filter(request=OuterRef("pk"))))
    states = Counter(dict(requests.values_list("state").annotate(n=Count("id"))))
    figures = {
        "persons": used.count(),
        "people": used.values("requester").distinct().count(),
        "volume_uses": used_lines.filter(volume__isnull=False).count(),
        "item_uses": used_lines.filter(item__isnull=False).count(),
        "copy_pages": used_lines.filter(method=UseMethod.COPYING).aggregate(n=Sum("copy_pages"))[
            "n"
        ]
        or 0,
        "certificates": used_lines.exclude(certificate_number="").count(),
        "refused": states[RequestState.REJECTED],
        "cancelled": states[RequestState.CANCELLED],
    }
    figures["waiting"] = sum(states.values()) - figures["refused"] - figures["cancelled"]
    figures["waiting"] -= figures["persons"]
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    rows: list[dict] = []
    series: dict[str, dict[str, list[int]]] = {}

    def add(dimension: str, label, month, count: int) -> None:
        key = f"{month:%Y-%m}"
        rows.append({"month": key, "dimension": dimension, "label": str(label), "count": count})
        series.setdefault(dimension, {}).setdefault(str(label), [0] * 12)[month.month - 1] += count

    purposes = {p.pk: p.name for p in UsePurpose.objects.all()}
    purpose_label = {None: _("Not recorded"), **purposes}
    by_month = used.annotate(month=TruncMonth("submitted_at"))
    for row in by_month.values("month", "purpose").annotate(n=Count("id")).order_by("month"):
        add("purpose", purpose_label.get(row["purpose"], row["purpose"]), row["month"], row["n"])
    user_types = dict(UserType.choices)
    for row in by_month.values("month", "user_type").annotate(n=Count("id")).order_by("month"):
        add("user_type", user_types.get(row["user_type"], row["user_type"]), row["month"], row["n"])
    lines_by_month = used_lines.annotate(month=TruncMonth("request__submitted_at"))
    methods = dict(UseMethod.choices)
    for row in lines_by_month.values("month", "method").annotate(n=Count("id")).order_by("month"):
        add("method", methods.get(row["method"], row["method"]), row["month"], row["n"])
    fonds_names = dict(Fonds.objects.values_list("pk", "code"))
    fonds_counts: Counter = Counter()
    for kind in ("item", "volume"):
        qs = (
            lines_by_month.filter(**{f"{kind}__isnull": False})
            .values("month", f"{kind}__fonds")
            .annotate(n=Count("id"))
        )
        for row in qs:
            fonds_counts[(row["month"], row[f"{kind}__fonds"])] += row["n"]
    for (month, fonds_id), count in sorted(fonds_counts.items()):
        add("fonds", fonds_names.get(fonds_id, str(fonds_id)), month, count)
    for row in (
        lines_by_month.filter(method=UseMethod.COPYING)
        .values("month")
        .annotate(n=Sum("copy_pages"))
        .order_by("month")
    ):
        add("copy_pages", _("Pages copied"), row["month"], row["n"] or 0)
    return {
        "year": year,
        "months": months,
        "rows": rows,
        "series": series,
        "figures": figures,
        "definitions": [(name, str(label), str(text)) for name, (label, text) in FIGURES.items()],
        "total": figures["persons"],
    }


# The longest period one register covers (a year and a day: a leap year's 1 Jan to 1 Jan).
REGISTER_MAX_DAYS = 366


def register_period(date_from: str, date_to: str) -> tuple[dt.date, dt.date]:
    """The period asked for (ISO dates; a bad or missing date: the first of this month and
    today), ordered and at most ``REGISTER_MAX_DAYS`` long."""
    today = timezone.localdate()
    try:
        start = dt.date.fromisoformat(date_from)
    except ValueError:
        start = today.replace(day=1)
    try:
        end = dt.date.fromisoformat(date_to)
    except ValueError:
        end = today
    if end < start:
        start, end = end, start
    return start, min(end, start + dt.timedelta(days=REGISTER_MAX_DAYS))


def use_register(date_from: dt.date, date_to: dt.date, *, user) -> dict:
    """利用登记簿: every use served in the period (an original handed out, a copy or a
    certificate handed over — the lines counted as uses by ``monthly``), dated by the day it
    was served, for the requests ``user`` handles (``AccessRequest.objects.handled_by``).
    Requests behind the door are only counted (``hidden``), never described.

    Its columns are those of the paper 利用登记簿 the annual report (档案统计年报, 档案利用) is
    counted from: who (name, unit, user type), when, why, what (records, pages copied,
    certificates), by whom it was served, and the effect (利用效果) when recorded."""
    with without_jit():  # the door's anti-join: see ``without_jit``
        used = (
            RequestLine.objects.filter(_used_line_q())
            .annotate(used_at=Coalesce("served_at", "loan__checked_out_at"))
            .filter(used_at__date__gte=date_from, used_at__date__lte=date_to)
        )
        handled = AccessRequest.objects.handled_by(user)
        hidden = used.exclude(request__in=handled).values("request").distinct().count()
        lines = list(
            used.filter(request__in=handled)
            .select_related(
                "request__requester__reader_profile",
                "request__purpose",
                "served_by",
                "loan__checked_out_by",
                "item",
                "volume",
            )
            .order_by("used_at", "request_id", "id")
        )
    rows = []
    for line in lines:
        req = line.request
        profile = getattr(req.requester, "reader_profile", None)
        loan = getattr(line, "loan", None)
        server = line.served_by if line.served_by_id else (loan.checked_out_by if loan else None)
        rows.append(
            {
                "date": timezone.localtime(line.used_at).date(),
                "number": req.number,
                "name": (profile.real_name if profile else "")
                or req.requester.get_full_name()
                or req.requester.username,
                "unit": profile.unit_name if profile else "",
                "user_type": req.get_user_type_display(),
                "purpose": req.purpose_label,
                "method": line.get_method_display(),
                "code": line.record.reference_code,
                "title": line.record.title,
                "pages": line.copy_pages if line.method == UseMethod.COPYING else None,
                "certificate": line.certificate_number,
                "served_by": (server.get_full_name() or server.username) if server else "",
                "effect": req.get_effect_display(),
            }
        )
    return {"from": date_from, "to": date_to, "rows": rows, "hidden": hidden}


def breakdown(data: dict, dimension: str) -> list[tuple[str, int]]:
    """A dimension's totals over the year, largest first."""
    totals: Counter = Counter()
    for row in data["rows"]:
        if row["dimension"] == dimension:
            totals[row["label"]] += row["count"]
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def annual_report_xlsx(data: dict, *, archive_name: str) -> bytes:
    """The use section of the 档案统计年报 as a workbook: the figures with their definitions,
    the breakdowns by purpose, method, user type and fonds, and the months. Every text cell
    goes through ``core.output.xlsx_cell``."""
    book = Workbook()
    sheet = book.active
    sheet.title = xlsx_cell(_("Use of archives"))[:31]
    bold = Font(bold=True)

    def put(*cells, strong: bool = False) -> None:
        sheet.append([xlsx_cell(cell) for cell in cells])
        if strong:
            for cell in sheet[sheet.max_row]:
                cell.font = bold

    put(archive_name, strong=True)
    put(_("Use of archives, %(year)d") % {"year": data["year"]}, strong=True)
    put()
    put(_("Figure"), _("Count"), _("Definition"), strong=True)
    for name, label, definition in data["definitions"]:
        put(label, data["figures"][name], definition)
    sections = [
        ("purpose", _("Person-visits by purpose of use")),
        ("method", _("Uses (volumes and items) by method of use")),
        ("user_type", _("Person-visits by user type")),
        ("fonds", _("Uses (volumes and items) by fonds")),
    ]
    for dimension, title in sections:
        put()
        put(title, strong=True)
        for label, count in breakdown(data, dimension):
            put(label, count)
    put()
    put(_("By month"), strong=True)
    put(_("Month"), _("Person-visits"), _("Uses"), _("Pages copied"), strong=True)
    for month in data["months"]:

        def total(dimension: str, month: str = month) -> int:
            return sum(
                r["count"]
                for r in data["rows"]
                if r["dimension"] == dimension and r["month"] == month
            )

        put(month, total("user_type"), total("method"), total("copy_pages"))
    sheet.column_dimensions["A"].width = 36
    sheet.column_dimensions["C"].width = 80
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
