"""Every state change of the catalogue and the store rooms (action functions).

## Repository API for other apps

All write functions are atomic, take ``acting_user`` keyword-only, write one audit row
(``accounts.audit.record_event``), enqueue the search outbox (``core.outbox.enqueue``) for
every volume or item they change and bump ``version``. They raise
``django.core.exceptions.ValidationError`` with a message naming the problem (nothing changes).

Records ("record" below is a ``Volume`` or an ``Item``):

- ``create_record(kind: "volume" | "item", data: dict, *, acting_user) -> Volume | Item``
- ``update_record(record, changes: dict, *, acting_user) -> record``
- ``delete_record(record, *, acting_user) -> None`` — drafts only (``is_removable_draft``);
  described records go through appraisal and destruction
- ``renumber_record(record, new_code: str, *, acting_user, reason: str) -> record``

Opening review (开放审核):

- ``review_queue_for(model, *, today=None) -> QuerySet`` (records past their opening age, not
  open, not waiting for a later review date; filter it with ``.visible_to(user)``)
- ``decide_opening(record, decision: OpeningDecision, *, acting_user, reason="",
  next_review_on=None, withheld_pages=(), redaction_note="", unit_name="",
  unit_opinion_on=None, unit_opinion="", unit_attachment=None) -> OpeningReview`` — the only
  way ``access_status`` changes; ``decide_openings(records, decision, ...)`` all or nothing;
  ``withheld_pages_of(record)``; the review sheet: ``review_sheet_rows``,
  ``apply_review_sheet``; ``imported_decisions`` (the importer)

Classification (``services.classification``): ``set_secrecy_term``, ``declassify_record``,
``secrecy_reminders(within_days=90, user=None)``.

Appraisal and destruction (``services.appraisal``): ``appraisal_queue_for``,
``appraise_record(s)``, ``destroy_records(appraisals, *, supervisors=[a, b], ...)`` (tombstones),
``register_pdf(destruction)`` (销毁清册).

Locations:

- ``create_shelving_unit(room, *, acting_user, code, columns, sections, layers, sides=1,
  kind="mobile", position_capacity=20, name="") -> ShelvingUnit`` (creates every Position)
- ``move_record(record_or_box, to_position: Position | str | None, *, acting_user, reason)
  -> Move`` — capacity checked under a row lock; ``to_position=None`` takes it off the shelf
  (e.g. issued on loan); a box moves its contents along, a volume its items.
- ``where_is(code: str, *, user=None) -> Location | None`` — a record, box or position by its
  code (a Code 128 scan with "." for "·" works too); records through ``visible_to(user)``
  when ``user`` is given. ``Location.kind / obj / position / room / unit``.
- ``position_occupancy(position) -> int``; ``room_occupancy(room) -> dict`` (capacity, used,
  percent, per unit); ``records_in_room(room) -> (volumes_qs, items_qs)`` (e.g. "records at
  risk in a room" for storage_env).
- ``retrieval_list(records) -> list`` records sorted by shelf order (``Position.path``).
- ``labels_for_codes(codes, *, user) -> (labels, unknown)``, ``labels_for_unit(unit)``; the PDF
  is ``repository.labels.labels_pdf(labels, size="a4" | "thermal")``.

Digitised pages (``repository.images``):

- ``add_digital_page(record, upload, *, acting_user, page_number=None) -> DigitalPage``
- ``replace_digital_page(page, upload, *, acting_user) -> DigitalPage`` (same number and
  withheld state; its text is read again) and ``delete_digital_page(page, *, acting_user)``
  (its text goes with it); both audited, both make search forget the old words at once.
  Like ``add_digital_page`` they trust the caller's access helper (``access_record_for_change``;
  for a page, ``access_page_for_change``). Doors: the record's staff page (replace, delete with
  a confirmation) and ``PUT``/``DELETE /api/v1/{items,volumes}/{id}/pages/{page_id}/``.
- ``render_variant(page, "thumb" | "web", *, watermark: bool) -> bytes``; the page URL is
  ``repository:page-image`` (watermarked for the public and researchers; withheld pages and
  originals never reach them). Borrowing may grant time-limited access by serving
  ``render_variant`` behind its own grant check.

Views of classified records: ``record_classified_view(record, *, acting_user)`` (audit only);
exports: ``record_export(*, acting_user, kind, query, fmt)``.

Stocktake (``repository.stocktake``): ``open_stocktake(room, *, acting_user, unit=None)``,
``record_scan(stocktake, code, *, acting_user, position=None)``,
``close_stocktake(stocktake, *, acting_user) -> report``; "on loan" comes from providers
registered with ``register_on_loan_provider(fn)``, ``fn(volume_ids, item_ids) ->
{("volume" | "item", id)}`` (borrowing registers one).

Imports (``repository.imports``): ``import_catalogue(data, filename, *, acting_user, kind,
mapping=None, encoding=None, dry_run=True, all_or_nothing=False) -> ImportReport``.
"""

from repository.placement import position_occupancy
from repository.services.appraisal import (
    appraisal_queue_for,
    appraise_record,
    appraise_records,
    destroy_records,
    register_pdf,
    retention_expired,
)
from repository.services.classification import (
    declassify_record,
    secrecy_from_text,
    secrecy_reminders,
    set_secrecy_term,
    set_secrecy_text,
    term_of,
)
from repository.services.fields import (
    AUDITED_FIELDS,
    EDITABLE_FIELDS,
    KINDS,
    kind_of,
    require_change,
    snapshot,
)
from repository.services.locations import (
    Location,
    labels_for_codes,
    labels_for_unit,
    records_in_room,
    retrieval_list,
    room_occupancy,
    rooms_occupancy,
    where_is,
)
from repository.services.moves import move_record
from repository.services.opening import (
    OPENING_RULE,
    SHEET_COLUMNS,
    apply_review_sheet,
    current_decision,
    decide_opening,
    decide_openings,
    imported_decisions,
    opening_rule_error,
    records_for_keys,
    review_queue_for,
    review_sheet_rows,
    withheld_pages_of,
)
from repository.services.records import (
    build_record,
    create_record,
    delete_record,
    draft_window,
    is_removable_draft,
    record_classified_view,
    record_export,
    retention_years,
    save_secrecy,
    update_record,
)
from repository.services.reference_codes import (
    code_taken_message,
    codes_with_prefix,
    renumber_record,
    validate_code_segments,
    validate_reference_code,
)
from repository.services.shelving import (
    POSITION_CAPACITY_MAX,
    UNIT_CODE_MAX,
    UNIT_POSITIONS_MAX,
    build_positions,
    create_shelving_unit,
)

__all__ = [
    "SHEET_COLUMNS",
    "apply_review_sheet",
    "appraise_records",
    "review_sheet_rows",
    "appraisal_queue_for",
    "appraise_record",
    "declassify_record",
    "destroy_records",
    "draft_window",
    "is_removable_draft",
    "register_pdf",
    "retention_expired",
    "retention_years",
    "secrecy_reminders",
    "set_secrecy_term",
    "set_secrecy_text",
    "secrecy_from_text",
    "save_secrecy",
    "term_of",
    "OPENING_RULE",
    "current_decision",
    "decide_openings",
    "imported_decisions",
    "opening_rule_error",
    "records_for_keys",
    "withheld_pages_of",
    "AUDITED_FIELDS",
    "EDITABLE_FIELDS",
    "KINDS",
    "Location",
    "POSITION_CAPACITY_MAX",
    "UNIT_CODE_MAX",
    "UNIT_POSITIONS_MAX",
    "build_positions",
    "build_record",
    "code_taken_message",
    "codes_with_prefix",
    "create_record",
    "create_shelving_unit",
    "decide_opening",
    "delete_record",
    "kind_of",
    "labels_for_codes",
    "labels_for_unit",
    "move_record",
    "position_occupancy",
    "record_classified_view",
    "record_export",
    "records_in_room",
    "renumber_record",
    "require_change",
    "retrieval_list",
    "review_queue_for",
    "room_occupancy",
    "rooms_occupancy",
    "snapshot",
    "update_record",
    "validate_code_segments",
    "validate_reference_code",
    "where_is",
]
