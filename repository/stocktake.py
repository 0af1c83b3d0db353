"""Stocktake (盘点) of a store room or one shelving unit.

Open it, record scans (scan a shelf code to say where you are, then the codes of what stands
there — on a phone page or through the API), close it: the report lists what is **missing**,
**misplaced** (found at another position), **unexpected** (a record or box not expected in this
room or unit) and **on loan** (absent, but borrowing says it is out). A code that names no record
or box is refused when scanned; a record on the wrong shelf is reported at scan time too. "On
loan" is pluggable: the borrowing app registers a provider with ``register_on_loan_provider``.

What is expected: the volumes, the items that are not inside a volume, and the boxes placed in
the room or unit (items travel with their volume; box contents with their box).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import record_event
from core import errors
from core.undo import undo_open
from repository.choices import StocktakeStatus
from repository.labels import candidates
from repository.models import (
    Box,
    Item,
    Position,
    ShelvingUnit,
    Stocktake,
    StocktakeScan,
    StoreRoom,
    Volume,
)

# provider(volume_ids, item_ids) -> {("volume", id), ("item", id), …} currently on loan
OnLoanProvider = Callable[[set[int], set[int]], set[tuple[str, int]]]
on_loan_providers: list[OnLoanProvider] = []


def register_on_loan_provider(provider: OnLoanProvider) -> None:
    if provider not in on_loan_providers:
        on_loan_providers.append(provider)


def records_out_on_loan(volume_ids: set[int], item_ids: set[int]) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    for provider in on_loan_providers:
        out |= set(provider(volume_ids, item_ids))
    return out


@transaction.atomic
def open_stocktake(room: StoreRoom, *, acting_user, unit: ShelvingUnit | None = None) -> Stocktake:
    if unit is not None and unit.room_id != room.pk:
        raise ValidationError({"unit": [_("The shelving unit is in another room.")]})
    busy = Stocktake.objects.select_for_update().filter(room=room, status=StocktakeStatus.OPEN)
    busy = busy.filter(unit=unit) if unit is not None else busy.filter(unit__isnull=True)
    if busy.exists():
        raise ValidationError(_("A stocktake of this room or unit is already open."))
    stocktake = Stocktake.objects.create(
        room=room,
        unit=unit,
        opened_by=acting_user if acting_user and acting_user.is_authenticated else None,
    )
    record_event(
        "repository.stocktake.opened",
        acting_user=acting_user,
        obj=stocktake,
        after={"room": room.code, "unit": unit.code if unit else None},
    )
    return stocktake


def _in_scope(stocktake: Stocktake, position: Position) -> bool:
    if stocktake.unit_id:
        return position.unit_id == stocktake.unit_id
    return position.room_id == stocktake.room_id


def record_scan(
    stocktake: Stocktake, code: str, *, acting_user, position: Position | str | None = None
) -> dict:
    """Record one scan. A position code returns ``{"kind": "position"}`` (the caller keeps it as
    the current shelf); other codes are stored as seen at ``position``."""
    if not Stocktake.objects.filter(pk=stocktake.pk, status=StocktakeStatus.OPEN).exists():
        raise ValidationError(_("This stocktake is closed."))
    code = (code or "").strip()
    if not code or len(code) > 64:
        raise ValidationError({"code": [_("Scan a code (at most 64 characters).")]})
    for candidate in candidates(code):
        found = Position.objects.filter(code=candidate).first()
        if found is not None:
            if not _in_scope(stocktake, found):
                raise ValidationError(
                    {
                        "code": [
                            _("Position %(code)s is not part of this stocktake.")
                            % {"code": found.code}
                        ]
                    }
                )
            return {"kind": "position", "position": found.code}
    if isinstance(position, str):
        position = Position.objects.filter(code=position).first()
        if position is None:
            raise ValidationError({"position": [_("Scan the shelf code first.")]})
    if position is None:
        raise ValidationError({"position": [_("Scan the shelf code first.")]})
    resolved, expected = None, None
    for candidate in candidates(code):
        for model, field in ((Volume, "reference_code"), (Item, "reference_code"), (Box, "code")):
            row = model.objects.filter(**{field: candidate}).values("position__code").first()
            if row is not None:
                resolved, expected = candidate, row["position__code"]
                break
        if resolved is not None:
            break
    if resolved is None:
        # A code that names no record or box of this archive (a misread label, a foreign
        # label) is refused at the shelf, where it can still be checked, instead of being
        # recorded as seen (DA/T 18: the stocktake reconciles the holdings with the catalogue).
        raise ValidationError(
            {
                "code": [
                    _(
                        "%(code)s is not a record or box of this archive: not recorded. "
                        "Check the label and scan again, or set it aside for the archivist."
                    )
                    % {"code": code}
                ]
            }
        )
    user = acting_user if acting_user and acting_user.is_authenticated else None
    try:
        with transaction.atomic():
            StocktakeScan.objects.create(
                stocktake=stocktake, code=resolved, position=position, scanned_by=user
            )
    except IntegrityError:
        StocktakeScan.objects.filter(stocktake=stocktake, code=resolved).update(
            position=position, scanned_by=user, scanned_at=timezone.now()
        )
    # ``expected``: where the catalogue puts it, so the scanner is told at once of a record
    # standing on the wrong shelf (None: nowhere, e.g. a file of a volume or a box's content).
    return {
        "kind": "record",
        "code": resolved,
        "position": position.code,
        "expected_position": expected,
        "matches": expected is None or expected == position.code,
    }


def build_report(stocktake: Stocktake) -> dict:
    scope = (
        {"position__unit_id": stocktake.unit_id}
        if stocktake.unit_id
        else {"position__room_id": stocktake.room_id}
    )
    expected: dict[str, dict] = {}
    for kind, qs in (
        ("volume", Volume.objects.filter(box__isnull=True, **scope)),
        ("item", Item.objects.filter(volume__isnull=True, box__isnull=True, **scope)),
    ):
        for pk, code, title, pos in qs.values_list(
            "pk", "reference_code", "title", "position__code"
        ):
            expected[code] = {"kind": kind, "id": pk, "code": code, "title": title, "expected": pos}
    for pk, code, pos in Box.objects.filter(**scope).values_list("pk", "code", "position__code"):
        expected[code] = {"kind": "box", "id": pk, "code": code, "title": "", "expected": pos}
    scans = dict(
        StocktakeScan.objects.filter(stocktake=stocktake).values_list("code", "position__code")
    )
    found, misplaced, missing_rows, unexpected = [], [], [], []
    for code, entry in expected.items():
        if code not in scans:
            missing_rows.append(entry)
        elif scans[code] == entry["expected"]:
            found.append(entry)
        else:
            misplaced.append({**entry, "found": scans[code]})
    # A file scanned on its own although it travels with its volume or box (both in scope) is
    # accounted for by them, not "unexpected".
    stray = [code for code in scans if code not in expected]
    accounted = set(
        Item.objects.filter(reference_code__in=stray, **scope)
        .filter(Q(volume__isnull=False) | Q(box__isnull=False))
        .values_list("reference_code", flat=True)
    ) | set(
        Volume.objects.filter(reference_code__in=stray, box__isnull=False, **scope).values_list(
            "reference_code", flat=True
        )
    )
    for code in stray:
        if code not in accounted:
            unexpected.append({"code": code, "found": scans[code]})
    loaned = records_out_on_loan(
        {e["id"] for e in missing_rows if e["kind"] == "volume"},
        {e["id"] for e in missing_rows if e["kind"] == "item"},
    )
    on_loan = [e for e in missing_rows if (e["kind"], e["id"]) in loaned]
    missing = [e for e in missing_rows if (e["kind"], e["id"]) not in loaned]
    return {
        "expected": len(expected),
        "found": len(found),
        "missing": missing,
        "misplaced": misplaced,
        "unexpected": unexpected,
        "on_loan": on_loan,
    }


REPORT_LISTS = ("missing", "misplaced", "unexpected", "on_loan")


def report_for(report: dict | None, user) -> dict | None:
    """The report as ``user`` may read it. It names only the records the user may see (the
    record door: clearance AND a permission on the fonds, or the public rules); every other
    record is counted, never named: ``withheld[list] = [{"position": code, "count": n}, …]``
    per position (where it was found, else where it belongs). Boxes and codes that name no
    record are listed as they are."""
    if not report:
        return report
    lists = {key: list(report.get(key) or []) for key in REPORT_LISTS}
    listed: dict[str, set[int]] = {"volume": set(), "item": set()}
    stray_codes: set[str] = set()
    for rows in lists.values():
        for row in rows:
            if row.get("kind") in listed:
                listed[row["kind"]].add(row["id"])
            elif "kind" not in row:
                stray_codes.add(row["code"])
    visible = {
        "volume": set(
            Volume.objects.visible_to(user)
            .filter(pk__in=listed["volume"])
            .values_list("pk", flat=True)
        ),
        "item": set(
            Item.objects.visible_to(user).filter(pk__in=listed["item"]).values_list("pk", flat=True)
        ),
    }
    # Scanned codes that were not expected here: hidden when they name a hidden record.
    hidden_codes: set[str] = set()
    if stray_codes:
        for model in (Volume, Item):
            hidden_codes |= set(
                model.objects.hidden_from(user)
                .filter(reference_code__in=stray_codes)
                .values_list("reference_code", flat=True)
            )

    def shown(row: dict) -> bool:
        kind = row.get("kind")
        if kind in visible:
            return row["id"] in visible[kind]
        return kind is not None or row.get("code") not in hidden_codes

    out = dict(report)
    withheld: dict[str, list[dict]] = {}
    for key, rows in lists.items():
        out[key] = [row for row in rows if shown(row)]
        per_position: dict[str, int] = {}
        for row in rows:
            if not shown(row):
                place = row.get("found") or row.get("expected") or ""
                per_position[place] = per_position.get(place, 0) + 1
        withheld[key] = [
            {"position": place, "count": count} for place, count in sorted(per_position.items())
        ]
    out["withheld"] = withheld
    return out


def recent_scans(stocktake: Stocktake, user, *, limit: int = 20) -> list[StocktakeScan]:
    """The latest scans as ``user`` may read them: a code that names a record the user may not
    see is left out (the record door, as in ``report_for``)."""
    scans = list(
        StocktakeScan.objects.filter(stocktake=stocktake)
        .select_related("position")
        .order_by("-scanned_at")[:limit]
    )
    codes = {scan.code for scan in scans}
    hidden: set[str] = set()
    for model in (Volume, Item):
        hidden |= set(
            model.objects.hidden_from(user)
            .filter(reference_code__in=codes)
            .values_list("reference_code", flat=True)
        )
    return [scan for scan in scans if scan.code not in hidden]


def undoable_scan_ids(stocktake: Stocktake, scans: list[StocktakeScan], user) -> set[int]:
    """The scans among ``scans`` that ``user`` may still undo (their own, within the window,
    while the stocktake is open): the phone page shows an Undo button beside these."""
    if stocktake.status != StocktakeStatus.OPEN:
        return set()
    return {
        scan.pk for scan in scans if scan.scanned_by_id == user.pk and undo_open(scan.scanned_at)
    }


@transaction.atomic
def undo_scan(scan: StocktakeScan, acting_user) -> None:
    """Take back one scan (a misread, the wrong shelf): only whoever scanned it, while the
    stocktake is open and within ``UNDO_WINDOW_SECONDS``. The scan row goes (the report counts
    what is on the shelves); the audit row keeps what was scanned, where, by whom and when."""
    stocktake = Stocktake.objects.select_for_update().get(pk=scan.stocktake_id)
    if stocktake.status != StocktakeStatus.OPEN:
        raise errors.Conflict(
            _("This stocktake is closed: its scans can no longer be undone."), "closed"
        )
    current = (
        StocktakeScan.objects.select_related("position").filter(pk=scan.pk, stocktake=stocktake)
    ).first()
    if current is None:
        raise errors.Conflict(_("This scan has already been undone."), "already_undone")
    if (
        acting_user is None
        or not acting_user.is_authenticated
        or current.scanned_by_id != acting_user.pk
    ):
        raise errors.NotAllowed(_("Only whoever made a scan can undo it."), "not_scanner")
    if not undo_open(current.scanned_at):
        raise errors.Conflict(
            _("Too late to undo this scan: it was made more than %(seconds)d seconds ago.")
            % {"seconds": settings.UNDO_WINDOW_SECONDS},
            "undo_window_closed",
        )
    before = {
        "code": current.code,
        "position": current.position.code if current.position else None,
        "scanned_at": current.scanned_at.isoformat(),
    }
    current.delete()
    record_event(
        "repository.stocktake.scan_undone", acting_user=acting_user, obj=stocktake, before=before
    )


@transaction.atomic
def close_stocktake(stocktake: Stocktake, *, acting_user) -> dict:
    stocktake = Stocktake.objects.select_for_update().get(pk=stocktake.pk)
    if stocktake.status != StocktakeStatus.OPEN:
        raise ValidationError(_("This stocktake is closed."))
    report = build_report(stocktake)
    stocktake.report = report
    stocktake.status = StocktakeStatus.CLOSED
    stocktake.closed_at = timezone.now()
    stocktake.save(update_fields=["report", "status", "closed_at"])
    record_event(
        "repository.stocktake.closed",
        acting_user=acting_user,
        obj=stocktake,
        after={
            key: (len(value) if isinstance(value, list) else value) for key, value in report.items()
        },
    )
    return report
