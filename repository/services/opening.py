"""Opening review (开放审核): the queue of records past their opening age and the decision.

An opening decision is the **only** way a record's 开放标识 changes: the description services,
the forms, the API, the importer and the admin refuse to change it (``OPENING_RULE``).

- 档案法 2020 第二十七条: records in the national archives generally open 25 years after they
  were formed (economic, educational, scientific and cultural ones may open earlier; the
  category's ``opening_age_years``).
- 档案法 2020 第三十条 and 档案法实施条例 2024 第三十条: the archive reviews together with the
  forming or transferring unit (会同档案形成单位或者移交单位), whose opinion is kept with the
  decision (``unit_name``, ``unit_opinion_on``, ``unit_opinion``, ``unit_attachment``).
- Classified records are declassified first (保守国家秘密法 2024 第二十四条;
  ``repository.services.classification.declassify_record``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import record_event
from accounts.choices import Classification
from core.errors import DomainError
from core.outbox import enqueue
from repository.choices import AccessStatus, DecisionSource, OpeningDecision
from repository.models import Category, Item, OpeningReview, Volume
from repository.services.fields import kind_of, require_change

# The message every other door answers with (it names the rule and the door).
OPENING_RULE = gettext_lazy(
    "The access status (开放标识) changes only through an opening review decision "
    "(Archives Law 2020, art. 27 and 30); %(door)s cannot change it."
)


def opening_rule_error(door: str) -> ValidationError:
    return ValidationError({"access_status": [OPENING_RULE % {"door": door}]})


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _due_q(today: dt.date, categories=None) -> Q:
    due = Q(pk__in=[])
    for category_id, age in (categories or Category.objects).values_list("id", "opening_age_years"):
        cutoff = _years_before(today, age)
        due |= Q(category_id=category_id) & (
            Q(date_end__lte=cutoff) | Q(date_end__isnull=True, filing_year__lte=cutoff.year - 1)
        )
    return due


def review_queue_for(
    model, *, today: dt.date | None = None, categories=None, ahead_months: int = 0
):
    """Records of ``model`` that reached their opening age (or reach it within
    ``ahead_months``) and are not open, not waiting for a later review date, oldest first."""
    today = today or timezone.localdate()
    horizon = today
    if ahead_months:
        month = today.month - 1 + ahead_months
        year, month = today.year + month // 12, month % 12 + 1
        horizon = today.replace(year=year, month=month, day=min(today.day, 28))
    return (
        model.objects.exclude(access_status=AccessStatus.OPEN)
        .filter(_due_q(horizon, categories))
        .filter(Q(next_review_on__isnull=True) | Q(next_review_on__lte=horizon))
        .order_by("date_end", "id")
    )


def current_decision(record) -> OpeningReview | None:
    return record.reviews.order_by("-decided_at", "-id").first()


def withheld_pages_of(record) -> list[int]:
    """The page numbers the record's current 部分开放 decision withholds (read from the
    decision rows, not the in-memory record: it applies to pages scanned later too)."""
    decision = current_decision(record)
    if decision is None or decision.decision != OpeningDecision.PARTIAL:
        return []
    return list(decision.withheld_pages)


def _known_pages(record) -> set[int]:
    known = set(record.pages_digitised.values_list("page_number", flat=True))
    if record.pages:
        known |= set(range(1, int(record.pages) + 1))
    return known


def _check_decision(record, decision, *, reason, next_review_on, pages, redaction_note):
    """Every refusal of one decision, as a field → messages dict (empty: acceptable)."""
    errors: dict[str, list[str]] = {}
    if decision not in OpeningDecision.values:
        return {"decision": [_("Unknown decision.")]}
    opening = decision in (OpeningDecision.OPEN, OpeningDecision.PARTIAL)
    if opening and record.classification != Classification.NONE:
        errors.setdefault("decision", []).append(
            _(
                "A classified record cannot be opened; declassify it first "
                "(Law on Guarding State Secrets, art. 24)."
            )
        )
    if (
        opening
        and isinstance(record, Volume)
        and record.items.exclude(classification=Classification.NONE).exists()
    ):
        errors.setdefault("decision", []).append(
            _("The volume holds classified items; declassify them before opening it.")
        )
    if decision in (OpeningDecision.CONTROLLED, OpeningDecision.DEFERRED):
        if not reason:
            errors["reason"] = [_("Give the reason for keeping the record controlled.")]
        if next_review_on is None:
            errors["next_review_on"] = [_("Give the date of the next review.")]
        elif next_review_on <= timezone.localdate():
            errors["next_review_on"] = [_("The next review date must be in the future.")]
    if decision == OpeningDecision.PARTIAL:
        if not pages and not redaction_note:
            errors["withheld_pages"] = [
                _("List the withheld pages, or describe the redaction, when opening in part.")
            ]
        if not reason:
            errors["reason"] = [_("Give the reason for withholding pages.")]
        unknown = sorted(set(pages) - _known_pages(record))
        if unknown:
            errors.setdefault("withheld_pages", []).append(
                _("The record has no page %(pages)s (it has %(count)s pages).")
                % {
                    "pages": "、".join(str(p) for p in unknown),
                    "count": record.pages or record.pages_digitised.count(),
                }
            )
    elif pages:
        errors["withheld_pages"] = [_("Only an opening in part withholds pages.")]
    return errors


def _parse_pages(withheld_pages) -> list[int]:
    try:
        pages = sorted({int(p) for p in withheld_pages or ()})
    except (TypeError, ValueError):
        raise ValidationError({"withheld_pages": [_("Page numbers are whole numbers.")]}) from None
    if any(p < 1 for p in pages):
        raise ValidationError({"withheld_pages": [_("Page numbers start at 1.")]})
    return pages


@transaction.atomic
def decide_opening(
    record,
    decision: str,
    *,
    acting_user,
    reason: str = "",
    next_review_on: dt.date | None = None,
    withheld_pages=(),
    redaction_note: str = "",
    unit_name: str = "",
    unit_opinion_on: dt.date | None = None,
    unit_opinion: str = "",
    unit_attachment=None,
) -> OpeningReview:
    """Record an opening decision: open / open in part (withheld pages and/or a redaction note;
    the public sees the released pages only, pages scanned later included) / keep controlled
    (reason + next review date) / defer (status unchanged, reason + next review date). It
    takes effect everywhere at once (every door reads ``access_status`` through
    ``visible_to``; search gets outbox rows, for a volume's items too)."""
    record = type(record).objects.select_for_update().get(pk=record.pk)
    require_change(acting_user, record.fonds, record.classification)
    reason = (reason or "").strip()
    redaction_note = (redaction_note or "").strip()
    pages = _parse_pages(withheld_pages)
    errors = _check_decision(
        record,
        decision,
        reason=reason,
        next_review_on=next_review_on,
        pages=pages,
        redaction_note=redaction_note,
    )
    if errors:
        raise ValidationError(errors)
    before = {"access_status": record.access_status, "next_review_on": record.next_review_on}
    if decision == OpeningDecision.CONTROLLED:
        record.access_status = AccessStatus.CONTROLLED
        record.next_review_on = next_review_on
    elif decision == OpeningDecision.DEFERRED:
        record.next_review_on = next_review_on
    else:
        record.access_status = (
            AccessStatus.PARTIAL if decision == OpeningDecision.PARTIAL else AccessStatus.OPEN
        )
        record.next_review_on = None
    # a page that was released and is withheld now narrows what the public may read
    newly_withheld = bool(pages) and (
        record.pages_digitised.filter(page_number__in=pages, withheld=False).exists()
    )
    record.pages_digitised.update(withheld=False)
    if pages:
        record.pages_digitised.filter(page_number__in=pages).update(withheld=True)
    record.version += 1
    record.save(update_fields=["access_status", "next_review_on", "version", "updated_at"])
    review = OpeningReview(
        **{kind_of(record): record},
        decision=decision,
        reason=reason,
        next_review_on=record.next_review_on,
        withheld_pages=pages,
        redaction_note=redaction_note,
        status_after=record.access_status,
        unit_name=(unit_name or "").strip(),
        unit_opinion_on=unit_opinion_on,
        unit_opinion=(unit_opinion or "").strip(),
        decided_by=acting_user if acting_user and acting_user.is_authenticated else None,
    )
    if unit_attachment:
        review.unit_attachment.save(unit_attachment.name, unit_attachment, save=False)
    review.save()
    record_event(
        "repository.opening.decided",
        acting_user=acting_user,
        obj=record,
        before=before,
        after={
            "decision": decision,
            "access_status": record.access_status,
            "next_review_on": record.next_review_on,
            "withheld_pages": pages,
            "redaction_note": redaction_note,
            "unit": review.unit_name,
        },
        note=reason,
    )
    narrows = newly_withheld or record.narrowed  # search applies such changes first
    enqueue(record, narrows=narrows, pages=newly_withheld)  # a volume's items follow it
    return review


def decide_openings(
    records: Iterable, decision: str, *, acting_user, **options
) -> list[OpeningReview]:
    """A batch decision on a selection: the same checks as one by one, all or nothing. A
    refusal lists one message per refused record (档号: reason) and changes nothing."""
    records = list(records)
    if not records:
        raise ValidationError(_("Select at least one record."))
    refused: list[str] = []
    reviews: list[OpeningReview] = []
    with transaction.atomic():
        for record in records:
            try:
                with transaction.atomic():
                    reviews.append(
                        decide_opening(record, decision, acting_user=acting_user, **options)
                    )
            except ValidationError as exc:
                refused.append(f"{record.reference_code}: {' '.join(exc.messages)}")
            except (DomainError, PermissionDenied) as exc:  # e.g. NotAllowed (fonds, clearance)
                refused.append(f"{record.reference_code}: {exc}")
        if refused:
            transaction.set_rollback(True)
    if refused:
        raise ValidationError(refused)
    return reviews


def imported_decisions(records_rows: list[tuple], *, filename: str, acting_user) -> int:
    """Keep the status an imported catalogue carried as an imported decision with its source
    (file, row, who). ``records_rows``: (saved record, row number). Called by the importer
    inside its transaction; unreviewed rows carry no decision."""
    reviews = []
    actor = acting_user if acting_user is not None and acting_user.is_authenticated else None
    decision_of = {
        AccessStatus.OPEN: OpeningDecision.OPEN,
        AccessStatus.CONTROLLED: OpeningDecision.CONTROLLED,
    }
    for record, row in records_rows:
        if record.access_status not in decision_of:
            continue
        reviews.append(
            OpeningReview(
                **{kind_of(record): record},
                decision=decision_of[record.access_status],
                status_after=record.access_status,
                source=DecisionSource.IMPORT,
                source_file=(filename or "")[:255],
                source_row=row,
                reason=_("Status carried by the imported catalogue."),
                decided_by=actor,
            )
        )
    OpeningReview.objects.bulk_create(reviews)
    return len(reviews)


def records_for_keys(keys: Iterable[str], *, user) -> list:
    """Records named ``volume-<id>`` / ``item-<id>`` that ``user`` may see (selection forms)."""
    by_kind: dict[str, list[int]] = {"volume": [], "item": []}
    for key in keys:
        kind, _sep, pk = str(key).partition("-")
        if kind in by_kind and pk.isdigit():
            by_kind[kind].append(int(pk))
    out: list = []
    for kind, model in (("volume", Volume), ("item", Item)):
        if by_kind[kind]:
            out += list(
                model.objects.visible_to(user).filter(pk__in=by_kind[kind]).select_related("fonds")
            )
    return out


# --- the review sheet (XLSX out, decisions back in) ------------------------------------------

SHEET_COLUMNS = (
    ("key", gettext_lazy("record key")),
    ("reference_code", gettext_lazy("reference code")),
    ("title", gettext_lazy("title")),
    ("date", gettext_lazy("date")),
    ("classification", gettext_lazy("classification")),
    ("access_status", gettext_lazy("access status")),
    ("decision", gettext_lazy("decision")),
    ("reason", gettext_lazy("reason")),
    ("next_review_on", gettext_lazy("next review date")),
    ("withheld_pages", gettext_lazy("withheld pages")),
    ("redaction_note", gettext_lazy("redaction note")),
    ("unit_name", gettext_lazy("transferring unit")),
    ("unit_opinion_on", gettext_lazy("date of the unit's opinion")),
    ("unit_opinion", gettext_lazy("unit's opinion")),
)


def review_sheet_rows(records: Iterable) -> Iterable[list]:
    """One row per record; the decision columns are left for the reviewers to fill in (the
    decision in either language: 开放 / 部分开放 / 继续控制 / 暂缓审核, or the codes)."""
    for r in records:
        date = r.date_end or r.date_start
        yield [
            f"{kind_of(r)}-{r.pk}",
            r.reference_code,
            r.title,
            date.isoformat() if date else (r.filing_year or ""),
            r.get_classification_display(),
            r.get_access_status_display(),
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]


def _sheet_decision(value: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    for code, label in OpeningDecision.choices:
        if value.lower() in (code, str(label).lower()):
            return code
    chinese = {
        "开放": "open",
        "部分开放": "partial",
        "继续控制": "controlled",
        "控制使用": "controlled",
        "暂缓审核": "deferred",
        "暂缓": "deferred",
    }
    return chinese.get(value, value)


def _sheet_date(value) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value}
        ) from None


@transaction.atomic
def apply_review_sheet(rows: Iterable[dict], *, acting_user) -> int:
    """Apply the decisions of a filled-in review sheet: every row with a decision, all or
    nothing; a refusal lists one message per refused row (row, 档号: reason)."""
    refused: list[str] = []
    done = 0
    for number, row in rows:
        decision = _sheet_decision(str(row.get("decision") or ""))
        if decision is None:
            continue
        found = records_for_keys([row.get("key", "")], user=acting_user)
        label = row.get("reference_code") or row.get("key") or ""
        if not found:
            refused.append(
                _("Row %(row)s, %(code)s: no such record.") % {"row": number, "code": label}
            )
            continue
        try:
            with transaction.atomic():
                pages = str(row.get("withheld_pages") or "").replace("，", ",").replace("、", ",")
                decide_opening(
                    found[0],
                    decision,
                    acting_user=acting_user,
                    reason=str(row.get("reason") or ""),
                    next_review_on=_sheet_date(row.get("next_review_on")),
                    withheld_pages=[p.strip() for p in pages.split(",") if p.strip()],
                    redaction_note=str(row.get("redaction_note") or ""),
                    unit_name=str(row.get("unit_name") or ""),
                    unit_opinion_on=_sheet_date(row.get("unit_opinion_on")),
                    unit_opinion=str(row.get("unit_opinion") or ""),
                )
            done += 1
        except (ValidationError, DomainError, PermissionDenied) as exc:
            messages = getattr(exc, "messages", None) or [str(exc)]
            refused.append(
                _("Row %(row)s, %(code)s: %(reason)s")
                % {"row": number, "code": found[0].reference_code, "reason": " ".join(messages)}
            )
    if refused:
        transaction.set_rollback(True)
        raise ValidationError(refused)
    return done
