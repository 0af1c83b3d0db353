"""Every state change of the catalogue and the store rooms (action functions).

## Repository API for other apps

All write functions are atomic, take ``acting_user`` keyword-only, write one audit row
(``accounts.audit.record_event``), enqueue the search outbox (``search.outbox.enqueue``) for
every volume or item they change, bump ``version`` and push after commit. They raise
``django.core.exceptions.ValidationError`` with a message naming the problem (nothing changes).

Records ("record" below is a ``Volume`` or an ``Item``):

- ``create_record(kind: "volume" | "item", data: dict, *, acting_user) -> Volume | Item``
- ``update_record(record, changes: dict, *, acting_user) -> record``
- ``delete_record(record, *, acting_user) -> None``
- ``renumber_record(record, new_code: str, *, acting_user, reason: str) -> record``
- ``next_reference_code(fonds, category, *, kind, year, retention, org_unit="", volume=None)
  -> str`` (repository.codes; pure, no write)

Opening review (开放审核):

- ``review_queue(*, today=None) -> QuerySet`` (per kind: ``review_queue_for(model, today)``)
- ``decide_opening(record, decision: OpeningDecision, *, acting_user, reason="",
  next_review_on=None, withheld_pages=()) -> OpeningReview``

Locations:

- ``create_shelving_unit(room, *, acting_user, code, kind, columns, sections, layers, sides=1,
  position_capacity=20, name="") -> ShelvingUnit`` (creates every Position)
- ``move_record(record_or_box, to_position: Position | str | None, *, acting_user, reason)
  -> Move`` — capacity checked under a row lock; ``to_position=None`` takes it off the shelf
  (e.g. issued on loan); a box moves its contents along.
- ``where_is(code: str, *, user=None) -> Location | None`` — a record, box or position by its
  code; records through ``visible_to(user)`` when ``user`` is given.
- ``position_occupancy(position) -> int``; ``room_occupancy(room) -> dict`` (capacity, used,
  per unit); ``records_in_room(room) -> (volumes_qs, items_qs)`` (e.g. "records at risk in a
  room" for storage_env).
- ``retrieval_list(records) -> list`` records sorted by shelf order (``Position.path``).

Digitised pages:

- ``add_digital_page(record, upload, *, acting_user, page_number=None) -> DigitalPage``
- ``access.page_image_for(user, page, variant)`` serves thumbnail / web (watermarked for the
  public and researchers) / original (staff only).

Views of classified records: ``record_classified_view(record, *, acting_user)`` (audit only).

Stocktake: ``open_stocktake(room, *, acting_user, unit=None)``,
``record_scan(stocktake, code, *, acting_user, position=None)``,
``close_stocktake(stocktake, *, acting_user) -> report``; "on loan" comes from the pluggable
``repository.stocktake.on_loan_providers`` list (borrowing registers a callable).
"""

from __future__ import annotations
