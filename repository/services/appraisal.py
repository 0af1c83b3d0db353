"""鉴定与销毁 instead of delete.

- 档案法 2020 第二十一条: the principles of appraisal, retention standards and the destruction
  procedure are set by the national archives administration; no record is destroyed without
  appraisal (禁止擅自销毁档案). Described records are therefore never hard-deleted: only a draft
  created by mistake may be removed, within ``DRAFT_DELETE_WINDOW_MINUTES`` (audited).
- A 定期 retention runs from 1 January after the 归档年度 (the usual counting, e.g.
  会计档案管理办法 2015 第十四条 "从会计年度终了后的第一天算起"); 永久 never runs out.
- Records whose retention ran out enter the appraisal queue; the appraisal decision keeps them
  with a new retention or sends them to destruction, with the opinion and the appraisers.
- Destruction is supervised by two persons (监销), produces a 销毁清册, and leaves a tombstone
  with 档号, 题名, the decision and 销毁情况 (DA/T 18-2022). Tombstones are hidden from search
  and the catalogue; the audit trail keeps them.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from accounts.audit import record_event
from core.errors import Conflict
from core.fonts import pdf_font
from core.outbox import enqueue
from core.output import pdf_text
from repository import retention as retention_codes
from repository.choices import AppraisalDecision, Retention
from repository.models import Appraisal, Destruction, Item, Tombstone, Volume
from repository.services.fields import kind_of, require_change, snapshot
from repository.services.records import retention_years


def _runs_until(record) -> int | None:
    """The last year of the record's retention (``None``: permanent or unknown), counting the
    latest "keep" appraisal's new retention from the year it was decided."""
    years = retention_years(record.retention)
    if years is None or years == float("inf") or not record.filing_year:
        return None
    last = record.filing_year + int(years)
    keep = (
        Appraisal.objects.filter(**{kind_of(record): record}, decision=AppraisalDecision.KEEP)
        .order_by("-decided_at")
        .first()
    )
    if keep is not None:
        new = retention_years(keep.new_retention)
        if new is None or new == float("inf"):
            return None
        last = max(last, keep.decided_at.year + int(new))
    return last


def retention_expired(record, *, today: dt.date | None = None) -> bool:
    today = today or timezone.localdate()
    last = _runs_until(record)
    return last is not None and last < today.year


def appraisal_queue_for(model, *, today: dt.date | None = None, user=None, limit: int = 500):
    """Records of ``model`` whose 保管期限 ran out and that await an appraisal decision."""
    today = today or timezone.localdate()
    qs = model.objects.exclude(retention=Retention.PERMANENT).filter(filing_year__isnull=False)
    if user is not None:
        qs = qs.visible_to(user)
    kind = "volume" if model is Volume else "item"
    pending = set(
        Appraisal.objects.filter(
            decision=AppraisalDecision.DESTROY, destroyed=False, **{f"{kind}__isnull": False}
        ).values_list(f"{kind}_id", flat=True)
    )
    out = []
    for record in qs.select_related("fonds", "category").order_by("filing_year", "id")[:5000]:
        if record.pk not in pending and retention_expired(record, today=today):
            out.append(record)
            if len(out) >= limit:
                break
    return out


@transaction.atomic
def appraise_record(
    record,
    decision: str,
    *,
    opinion: str,
    appraisers: str,
    acting_user,
    new_retention: str = "",
) -> Appraisal:
    """An appraisal decision on a record whose retention ran out: keep (with a longer new
    retention, counted from this year) or destroy (then it waits for a supervised destruction)."""
    record = type(record).objects.select_for_update().get(pk=record.pk)
    require_change(acting_user, record.fonds, record.classification)
    errors: dict[str, list[str]] = {}
    if decision not in AppraisalDecision.values:
        errors["decision"] = [_("Unknown decision.")]
    if record.retention == Retention.PERMANENT:
        errors["decision"] = [_("Permanent records are never appraised for destruction.")]
    elif not retention_expired(record):
        errors["decision"] = [_("The record's retention period has not run out.")]
    if not (opinion or "").strip():
        errors["opinion"] = [_("Give the appraisal opinion.")]
    names = [
        n for n in (appraisers or "").replace("，", ",").replace("、", ",").split(",") if n.strip()
    ]
    if len(names) < 2:
        errors["appraisers"] = [_("Name the appraisers (at least two persons).")]
    if decision == AppraisalDecision.KEEP and (
        not retention_codes.is_valid(new_retention) or retention_codes.is_legacy(new_retention)
    ):
        errors["new_retention"] = [_("Give the new retention.")]
    if errors:
        raise ValidationError(errors)
    appraisal = Appraisal.objects.create(
        **{kind_of(record): record},
        kind=kind_of(record),
        fonds=record.fonds,
        reference_code=record.reference_code,
        title=record.title,
        decision=decision,
        new_retention=new_retention if decision == AppraisalDecision.KEEP else "",
        opinion=opinion.strip(),
        appraisers="、".join(n.strip() for n in names),
        decided_by=acting_user if acting_user and acting_user.is_authenticated else None,
    )
    before = {"retention": record.retention}
    if decision == AppraisalDecision.KEEP:
        record.retention = new_retention
        record.version += 1
        record.save(update_fields=["retention", "version", "updated_at"])
        enqueue(record)
    record_event(
        f"repository.{kind_of(record)}.appraised",
        acting_user=acting_user,
        obj=record,
        before=before,
        after={
            "decision": decision,
            "new_retention": appraisal.new_retention,
            "appraisers": appraisal.appraisers,
        },
        note=appraisal.opinion,
    )
    return appraisal


@transaction.atomic
def destroy_records(
    appraisals: Iterable[Appraisal],
    *,
    supervisors,
    method: str,
    place: str,
    destroyed_on: dt.date,
    acting_user,
) -> Destruction:
    """Destroy appraised records under two supervisors (监销): each record leaves a tombstone
    and is removed with its scans, moves and reviews; all or nothing."""
    appraisals = list(appraisals)
    supervisors = [s for s in supervisors or () if s is not None]
    errors: dict[str, list[str]] = {}
    if len({s.pk for s in supervisors}) != 2 or not all(s.is_authenticated for s in supervisors):
        errors["supervisors"] = [_("A destruction is supervised by two different persons.")]
    if not (method or "").strip():
        errors["method"] = [_("Give the method of destruction.")]
    if not (place or "").strip():
        errors["place"] = [_("Give the place of destruction.")]
    if destroyed_on is None or destroyed_on > timezone.localdate():
        errors["destroyed_on"] = [_("Give the date of destruction (not in the future).")]
    if not appraisals:
        errors["appraisals"] = [_("Select at least one record.")]
    if errors:
        raise ValidationError(errors)
    refused = []
    records = []
    for appraisal in appraisals:
        appraisal = Appraisal.objects.select_for_update().get(pk=appraisal.pk)
        record = appraisal.volume or appraisal.item
        if appraisal.decision != AppraisalDecision.DESTROY or appraisal.destroyed or record is None:
            refused.append(
                _("%(code)s: no pending destruction decision.") % {"code": appraisal.reference_code}
            )
            continue
        require_change(acting_user, record.fonds, record.classification)
        records.append((appraisal, record))
    fonds = {r.fonds_id for _a, r in records}
    if len(fonds) > 1:
        refused.append(_("A destruction register covers one fonds."))
    chosen_items = {r.pk for _a, r in records if isinstance(r, Item)}
    for _a, record in records:
        if isinstance(record, Volume):
            left = set(record.items.values_list("pk", flat=True)) - chosen_items
            if left:
                refused.append(
                    _("%(code)s: the volume still holds items that are not being destroyed.")
                    % {"code": record.reference_code}
                )
    if refused:
        raise ValidationError(refused)
    destruction = Destruction.objects.create(
        fonds=records[0][1].fonds,
        method=method.strip(),
        place=place.strip(),
        destroyed_on=destroyed_on,
        supervisor_1=supervisors[0],
        supervisor_2=supervisors[1],
        recorded_by=acting_user if acting_user and acting_user.is_authenticated else None,
    )
    note = _("Destroyed on %(date)s by %(method)s at %(place)s, supervised by %(a)s and %(b)s.") % {
        "date": destroyed_on.isoformat(),
        "method": destruction.method,
        "place": destruction.place,
        "a": supervisors[0].get_username(),
        "b": supervisors[1].get_username(),
    }
    # Items before volumes (a volume is destroyed after its contents).
    records.sort(key=lambda pair: isinstance(pair[1], Volume))
    for appraisal, record in records:
        tombstone = Tombstone.objects.create(
            kind=kind_of(record),
            record_id=record.pk,
            fonds=record.fonds,
            reference_code=record.reference_code,
            title=record.title,
            retention=record.retention,
            classification=record.classification,
            pages=record.pages,
            appraisal=appraisal,
            destruction=destruction,
            destruction_note=note[:300],
        )
        record_event(
            f"repository.{kind_of(record)}.destroyed",
            acting_user=acting_user,
            obj=tombstone,
            before=snapshot(record),
            after={
                "appraisal": appraisal.pk,
                "opinion": appraisal.opinion,
                "destruction": note,
            },
        )
        for page in record.pages_digitised.all():
            for field in (page.original, page.web, page.thumbnail):
                if field:
                    field.delete(save=False)
        record.pages_digitised.all().delete()
        appraisal.destroyed = True
        appraisal.save(update_fields=["destroyed"])
        record.version += 1
        enqueue(record, deleted=True)
        try:
            record.delete()
        except ProtectedError:
            raise Conflict(
                _("%(code)s is named in access requests or loans; it cannot be destroyed.")
                % {"code": record.reference_code},
                code="record_in_use",
            ) from None
    return destruction


def register_pdf(destruction: Destruction) -> bytes:
    """销毁清册: the fonds, who supervised, when, how, where, and one line per tombstone.
    Every value goes through ``core.output.pdf_text``."""
    font = pdf_font()
    style = ParagraphStyle("cell", fontName=font, fontSize=9, leading=12)
    head = ParagraphStyle("head", fontName=font, fontSize=14, leading=18)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), title="销毁清册")

    def p(value, st=style):
        return Paragraph(pdf_text(value), st)

    rows = [
        [
            p(_("No.")),
            p(_("reference code")),
            p(_("title")),
            p(_("retention")),
            p(_("pages")),
            p(_("appraisal opinion")),
            p(_("appraisers")),
        ]
    ]
    for n, t in enumerate(
        destruction.tombstones.select_related("appraisal").order_by("reference_code"), 1
    ):
        rows.append(
            [
                p(n),
                p(t.reference_code),
                p(t.title),
                p(t.retention),
                p(t.pages or ""),
                p(t.appraisal.opinion),
                p(t.appraisal.appraisers),
            ]
        )
    table = Table(rows, repeatRows=1, colWidths=[30, 150, 230, 50, 40, 180, 100])
    table.setStyle(
        TableStyle(
            [("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]
        )
    )
    story = [
        p(_("Destruction register") + " 销毁清册", head),
        Spacer(1, 6),
        p(_("Fonds: %(fonds)s") % {"fonds": destruction.fonds}),
        p(
            _("Destroyed on %(date)s by %(method)s at %(place)s.")
            % {
                "date": destruction.destroyed_on.isoformat(),
                "method": destruction.method,
                "place": destruction.place,
            }
        ),
        p(
            _("Supervised by (监销人): %(a)s, %(b)s")
            % {
                "a": destruction.supervisor_1.get_username(),
                "b": destruction.supervisor_2.get_username(),
            }
        ),
        Spacer(1, 8),
        table,
    ]
    doc.build(story)
    return out.getvalue()


def appraise_records(records, *, acting_user, **decision) -> list[Appraisal]:
    """The same appraisal decision on a selection: all or nothing, one message per refused
    record (档号: reason)."""
    records = list(records)
    refused: list[str] = []
    done: list[Appraisal] = []
    with transaction.atomic():
        for record in records:
            try:
                with transaction.atomic():
                    done.append(
                        appraise_record(
                            record,
                            decision.get("decision", ""),
                            opinion=decision.get("opinion", ""),
                            appraisers=decision.get("appraisers", ""),
                            new_retention=decision.get("new_retention", ""),
                            acting_user=acting_user,
                        )
                    )
            except ValidationError as exc:
                refused.append(f"{record.reference_code}: {' '.join(exc.messages)}")
        if refused:
            transaction.set_rollback(True)
    if refused:
        raise ValidationError(refused)
    return done
