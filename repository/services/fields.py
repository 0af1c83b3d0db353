"""What every catalogue write shares: the record kinds, the described and audited fields, the
snapshot an audit row keeps, and who may change a fonds' records."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from core.errors import NotAllowed
from repository.access import can_change_fonds
from repository.models import Fonds, Item, Volume

KINDS = {"volume": Volume, "item": Item}
EDITABLE_FIELDS = (
    "title",
    "creator",
    "pages",
    "retention",
    "classification",
    "access_status",
    "carrier",
    "keywords",
    "notes",
    "filing_year",
    "org_unit",
    "document_number",
    "project_code",
    "catalogue_number",
)
# 保密期限 (``secrecy_period`` in form, API and import) is not a column: it is written into the
# record's SecrecyTerm by ``services.classification.set_secrecy_text`` (audited there).
SECRECY_ELEMENT = "secrecy_period"
AUDITED_FIELDS = (
    "reference_code",
    *EDITABLE_FIELDS,
    "date_start",
    "date_end",
    "date_precision",
    "date_inferred",
    "legacy_values",
    "category_id",
    "volume_id",
    "sequence",
)


def kind_of(record) -> str:
    return "volume" if isinstance(record, Volume) else "item"


def snapshot(record) -> dict[str, Any]:
    return {f: getattr(record, f, None) for f in AUDITED_FIELDS if hasattr(record, f)}


def require_change(user, fonds: Fonds, classification: int = 0) -> None:
    if user is None:  # system actions (imports from the command line, the seeder)
        return
    if not can_change_fonds(user, fonds):
        raise NotAllowed(_("You may not change the records of this fonds."))
    if int(classification) > int(user.clearance):
        raise NotAllowed(_("The classification is above your clearance."))
