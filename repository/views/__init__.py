"""Pages of the catalogue and the store rooms. Thin adapters: parse, one access helper, one
service, render. Staff pages under ``staff/``; the public open catalogue under ``catalogue/``.

One module per concept; ``repository/urls.py`` names the views through this package."""

from repository.views.catalogue import (
    staff_catalogue,
    staff_export,
    staff_hierarchy,
    staff_page_delete,
    staff_page_original,
    staff_page_replace,
    staff_page_upload,
    staff_record,
    staff_record_delete,
    staff_record_edit,
    staff_record_move,
    staff_record_new,
    staff_record_renumber,
)
from repository.views.importing import (
    staff_import,
    staff_import_job,
    staff_import_job_status,
    staff_import_rejected,
)
from repository.views.integrity import (
    staff_appraisal,
    staff_destruction,
    staff_destruction_register,
    staff_record_classification,
    staff_secrecy_reminders,
)
from repository.views.locations import (
    staff_box,
    staff_boxes,
    staff_labels,
    staff_moves,
    staff_room,
    staff_rooms,
    staff_where_is,
)
from repository.views.opening import (
    staff_review_decide,
    staff_review_queue,
    staff_review_sheet,
    staff_review_sheet_upload,
)
from repository.views.public import (
    page_image,
    public_category,
    public_export,
    public_fonds,
    public_fonds_list,
    public_record,
)
from repository.views.stocktaking import mobile_stocktake, staff_stocktake, staff_stocktakes

__all__ = [
    "staff_appraisal",
    "staff_destruction",
    "staff_destruction_register",
    "staff_record_classification",
    "staff_review_sheet",
    "staff_review_sheet_upload",
    "staff_secrecy_reminders",
    "mobile_stocktake",
    "page_image",
    "public_category",
    "public_export",
    "public_fonds",
    "public_fonds_list",
    "public_record",
    "staff_box",
    "staff_boxes",
    "staff_catalogue",
    "staff_export",
    "staff_hierarchy",
    "staff_import",
    "staff_import_job",
    "staff_import_job_status",
    "staff_import_rejected",
    "staff_labels",
    "staff_moves",
    "staff_page_delete",
    "staff_page_original",
    "staff_page_replace",
    "staff_page_upload",
    "staff_record",
    "staff_record_delete",
    "staff_record_edit",
    "staff_record_move",
    "staff_record_new",
    "staff_record_renumber",
    "staff_review_decide",
    "staff_review_queue",
    "staff_room",
    "staff_rooms",
    "staff_stocktake",
    "staff_stocktakes",
    "staff_where_is",
]
