"""密级 with its 保密期限, declassification (解密/降密) and the reminder queue.

- 保守国家秘密法 2024 第十五条: a classification carries its period — years, a date, or 长期
  (only where the scope of secrets rules so); unless otherwise ruled 绝密 ≤ 30, 机密 ≤ 20,
  秘密 ≤ 10 years, counted from the marked date.
- 保守国家秘密法 2024 第二十四条: early declassification (or a lower level) is decided by the
  原定密机关、单位 or its superior (a successor where it was abolished); here it is a recorded
  decision with basis, authority, date and who recorded it, never a field edit.
- Classified records are declassified before they can be opened (档案法 2020 第二十七条 opens
  only what need not stay restricted; ``services.opening`` refuses otherwise).
- A volume's 保密期限 is at least that of its items (same rule as its 密级,
  ``services.records._check_volume_rule``).
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.choices import Classification
from core.outbox import enqueue
from repository import dates
from repository.choices import SecrecyPeriodKind
from repository.models import Declassification, Item, SecrecyTerm, Volume
from repository.services.fields import kind_of, require_change
from repository.validation import SECRECY_LONG, parse_secrecy_period

# 保守国家秘密法 2024 第十五条: the longest periods unless otherwise ruled.
MAX_YEARS: dict[int, int] = {
    int(Classification.SECRET): 10,
    int(Classification.CONFIDENTIAL): 20,
    int(Classification.TOP_SECRET): 30,
}


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _ends(term: SecrecyTerm | None) -> dt.date | None:
    """The end of a period; ``date.max`` for 长期; ``None`` when there is no period."""
    if term is None:
        return None
    if term.kind == SecrecyPeriodKind.LONG_TERM:
        return dt.date.max
    return term.ends_on


def term_of(record) -> SecrecyTerm | None:
    return SecrecyTerm.objects.filter(**{kind_of(record): record}).first()


def _term_values(level: int, kind: str, *, years, ends_on, marked_on: dt.date, basis: str) -> dict:
    """The checked fields of a term of ``kind`` on a record classified ``level`` (保守国家秘密法
    2024 第十五条: a period only with a classification; 绝密 ≤ 30, 机密 ≤ 20, 秘密 ≤ 10 years)."""
    if level == Classification.NONE:
        raise ValidationError(
            {"classification": [_("Only a classified record has a secrecy period.")]}
        )
    if kind == SecrecyPeriodKind.YEARS:
        if not years or int(years) < 1:
            raise ValidationError({"years": [_("Give the number of years.")]})
        if int(years) > MAX_YEARS[level]:
            raise ValidationError(
                {
                    "years": [
                        _(
                            "A %(level)s classification lasts at most %(max)s years unless "
                            "otherwise ruled (Law on Guarding State Secrets, art. 15): give a "
                            "date or long-term with its basis."
                        )
                        % {"level": Classification(level).label, "max": MAX_YEARS[level]}
                    ]
                }
            )
        years, ends_on = int(years), _add_years(marked_on, int(years))
    elif kind == SecrecyPeriodKind.DATE:
        if ends_on is None:
            raise ValidationError({"ends_on": [_("Give the date the secrecy period ends.")]})
        years = None
    elif kind == SecrecyPeriodKind.LONG_TERM:
        years, ends_on = None, None
        if not (basis or "").strip():
            raise ValidationError(
                {"basis": [_("A long-term secrecy period needs its basis (the ruling).")]}
            )
    else:
        raise ValidationError({"kind": [_("Unknown secrecy period.")]})
    return {
        "kind": kind,
        "years": years,
        "ends_on": ends_on,
        "marked_on": marked_on,
        "basis": (basis or "").strip(),
    }


@transaction.atomic
def set_secrecy_term(
    record,
    *,
    kind: str,
    acting_user,
    years: int | None = None,
    ends_on: dt.date | None = None,
    marked_on: dt.date | None = None,
    basis: str = "",
) -> SecrecyTerm:
    """Record the 保密期限 (and 定密依据) of a classified record, e.g. 机密★10年. The only
    writer of ``SecrecyTerm`` (the description element comes in by ``set_secrecy_text``)."""
    record = type(record).objects.select_for_update().get(pk=record.pk)
    require_change(acting_user, record.fonds, record.classification)
    marked_on = marked_on or record.date_start or timezone.localdate()
    values = _term_values(
        int(record.classification),
        kind,
        years=years,
        ends_on=ends_on,
        marked_on=marked_on,
        basis=basis,
    )
    term = term_of(record) or SecrecyTerm(**{kind_of(record): record})
    before = {"secrecy": term.label() if term.pk else ""}
    for field, value in values.items():
        setattr(term, field, value)
    _check_volume_period(record, term)
    term.save()
    record_event(
        f"repository.{kind_of(record)}.secrecy_set",
        acting_user=acting_user,
        obj=record,
        before=before,
        after={"secrecy": term.label(), "ends_on": term.ends_on, "basis": term.basis},
    )
    return term


def _as_element_error(exc: ValidationError) -> ValidationError:
    """Errors of the term's own fields, named by the description element (form, API, import)."""
    return ValidationError({"secrecy_period": exc.messages})


def secrecy_from_text(record, text) -> dict | None:
    """The 保密期限 element as written (``10年``, ``20301231``, ``长期``; the one parser,
    ``validation.parse_secrecy_period``) checked against ``record`` without writing anything:
    the ``set_secrecy_term`` arguments, or ``None`` when empty. Refused for a 非密 record and
    above the limits of 保守国家秘密法 2024 第十五条, all under the ``secrecy_period`` key."""
    written = parse_secrecy_period(text)
    if not written:
        return None
    years: int | None = None
    ends_on: dt.date | None = None
    if written == SECRECY_LONG:
        kind = SecrecyPeriodKind.LONG_TERM
    elif written.endswith("年"):
        kind, years = SecrecyPeriodKind.YEARS, int(written[:-1])
    else:
        kind = SecrecyPeriodKind.DATE
        ends_on = dates.parse(written).start
    marked_on = record.date_start or timezone.localdate()
    try:
        values = _term_values(
            int(record.classification or 0),
            kind,
            years=years,
            ends_on=ends_on,
            marked_on=marked_on,
            basis="",
        )
        _check_volume_period(record, SecrecyTerm(**values))
    except ValidationError as exc:
        raise _as_element_error(exc) from exc
    return {"kind": kind, "years": years, "ends_on": ends_on}


@transaction.atomic
def set_secrecy_text(record, text, *, acting_user) -> SecrecyTerm | None:
    """Write the 保密期限 element (form, API, import) into the record's ``SecrecyTerm``
    (audited by ``set_secrecy_term``). Empty text changes nothing: a period ends only by
    declassification (``declassify_record``) or a new period; the same period is no change."""
    record = type(record).objects.get(pk=record.pk)
    values = secrecy_from_text(record, text)
    current = term_of(record)
    if values is None:
        return current
    if current is not None and current.kind == values["kind"]:
        same_years = values["kind"] == SecrecyPeriodKind.YEARS and current.years == values["years"]
        same_date = (
            values["kind"] == SecrecyPeriodKind.DATE and current.ends_on == values["ends_on"]
        )
        if same_years or same_date or values["kind"] == SecrecyPeriodKind.LONG_TERM:
            return current
    try:
        return set_secrecy_term(record, acting_user=acting_user, **values)
    except ValidationError as exc:
        raise _as_element_error(exc) from exc


def _check_volume_period(record, term: SecrecyTerm) -> None:
    """A volume's period ends no earlier than any of its items' (enforced)."""
    mine = _ends(term) if term.kind else None
    if isinstance(record, Item) and record.volume_id:
        theirs = _ends(term_of(record.volume))
        if theirs is None or (mine is not None and mine > theirs):
            raise ValidationError(
                {
                    "kind": [
                        _(
                            "The item's secrecy period outlasts its volume's: set the volume's "
                            "period first (a volume carries the longest period of its items)."
                        )
                    ]
                }
            )
    if isinstance(record, Volume) and record.pk:
        for item_term in SecrecyTerm.objects.filter(item__volume=record).select_related("item"):
            theirs = _ends(item_term)
            if theirs is not None and mine is not None and theirs > mine:
                raise ValidationError(
                    {
                        "kind": [
                            _(
                                "An item of the volume is classified longer (%(code)s): the "
                                "volume's period cannot end earlier."
                            )
                            % {"code": item_term.item.reference_code if item_term.item else ""}
                        ]
                    }
                )


@transaction.atomic
def declassify_record(
    record,
    *,
    to_level: int,
    basis: str,
    authority: str,
    decided_on: dt.date,
    acting_user,
) -> Declassification:
    """解密 (to 非密) or 降密 (to a lower level): a decision with its basis, the deciding
    authority (原定密机关 or its superior or successor) and date, recorded and audited."""
    record = type(record).objects.select_for_update().get(pk=record.pk)
    require_change(acting_user, record.fonds, record.classification)
    errors: dict[str, list[str]] = {}
    try:
        to_level = int(to_level)
    except (TypeError, ValueError):
        to_level = -1
    if to_level not in Classification.values or to_level >= int(record.classification):
        errors["to_level"] = [_("Declassification lowers the classification.")]
    if not (basis or "").strip():
        errors["basis"] = [_("Give the basis of the declassification.")]
    if not (authority or "").strip():
        errors["authority"] = [
            _("Name the deciding authority (the original classifying body or its successor).")
        ]
    if decided_on is None:
        errors["decided_on"] = [_("Give the date of the decision.")]
    elif decided_on > timezone.localdate():
        errors["decided_on"] = [_("The decision date cannot be in the future.")]
    if not errors and isinstance(record, Volume):
        top = (
            record.items.order_by("-classification")
            .values_list("classification", flat=True)
            .first()
        )
        if top is not None and int(top) > to_level:
            errors["to_level"] = [
                _(
                    "The volume holds items classified higher; declassify them first (a volume "
                    "carries the highest classification of its items)."
                )
            ]
    if errors:
        raise ValidationError(errors)
    before = int(record.classification)
    decision = Declassification.objects.create(
        **{kind_of(record): record},
        from_level=before,
        to_level=to_level,
        basis=basis.strip(),
        authority=authority.strip(),
        decided_on=decided_on,
        recorded_by=acting_user if acting_user and acting_user.is_authenticated else None,
    )
    record.classification = to_level
    record.version += 1
    record.save(update_fields=["classification", "version", "updated_at"])
    if to_level == Classification.NONE:
        SecrecyTerm.objects.filter(**{kind_of(record): record}).delete()
    record_event(
        f"repository.{kind_of(record)}.declassified",
        acting_user=acting_user,
        obj=record,
        before={"classification": before},
        after={
            "classification": to_level,
            "basis": decision.basis,
            "authority": decision.authority,
            "decided_on": decided_on,
        },
    )
    enqueue(record)
    return decision


def secrecy_reminders(*, within_days: int = 90, today: dt.date | None = None, user=None):
    """Classifications whose period ends within ``within_days`` (or has ended) on records
    still classified, soonest first; through the record door when ``user`` is given
    (保守国家秘密法 2024 第二十四条: review before the period runs out)."""
    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=int(within_days))
    terms = SecrecyTerm.objects.filter(ends_on__isnull=False, ends_on__lte=horizon).filter(
        Q(volume__classification__gt=0) | Q(item__classification__gt=0)
    )
    if user is not None:
        terms = terms.filter(
            Q(volume__in=Volume.objects.visible_to(user).values("pk"))
            | Q(item__in=Item.objects.visible_to(user).values("pk"))
        )
    return terms.select_related("volume", "item").order_by("ends_on", "id")
