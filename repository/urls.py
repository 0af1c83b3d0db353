"""URLs of the repository app, mounted at the site root by config/urls.py.

Staff pages go under `staff/...`, public pages at the root, phone pages under `m/...`.
"""

from django.urls import path

from repository import description_pages, stocktake_export, views

app_name = "repository"

urlpatterns = [
    # staff: catalogue
    path("staff/catalogue/", views.staff_catalogue, name="staff-catalogue"),
    path("staff/catalogue/hierarchy/", views.staff_hierarchy, name="staff-hierarchy"),
    path("staff/catalogue/export.<str:fmt>", views.staff_export, name="staff-export"),
    path("staff/catalogue/new/<str:kind>/", views.staff_record_new, name="staff-record-new"),
    # a page's doors before the record's: "pages/<pk>/delete/" would match "<kind>/<pk>/delete/"
    path(
        "staff/catalogue/pages/<int:pk>/replace/",
        views.staff_page_replace,
        name="staff-page-replace",
    ),
    path(
        "staff/catalogue/pages/<int:pk>/delete/",
        views.staff_page_delete,
        name="staff-page-delete",
    ),
    path("staff/catalogue/<str:kind>/<int:pk>/", views.staff_record, name="staff-record"),
    path(
        "staff/catalogue/<str:kind>/<int:pk>/edit/",
        views.staff_record_edit,
        name="staff-record-edit",
    ),
    path(
        "staff/catalogue/<str:kind>/<int:pk>/renumber/",
        views.staff_record_renumber,
        name="staff-record-renumber",
    ),
    path(
        "staff/catalogue/<str:kind>/<int:pk>/delete/",
        views.staff_record_delete,
        name="staff-record-delete",
    ),
    path(
        "staff/catalogue/<str:kind>/<int:pk>/move/",
        views.staff_record_move,
        name="staff-record-move",
    ),
    path(
        "staff/catalogue/<str:kind>/<int:pk>/pages/",
        views.staff_page_upload,
        name="staff-page-upload",
    ),
    path(
        "staff/catalogue/pages/<int:pk>/original/",
        views.staff_page_original,
        name="staff-page-original",
    ),
    path("staff/catalogue/import/", views.staff_import, name="staff-import"),
    path("staff/catalogue/import/<str:token>/", views.staff_import_job, name="staff-import-job"),
    path(
        "staff/catalogue/import/<str:token>/status/",
        views.staff_import_job_status,
        name="staff-import-job-status",
    ),
    path(
        "staff/catalogue/import/<str:token>/rejected/",
        views.staff_import_rejected,
        name="staff-import-rejected",
    ),
    path(
        "staff/catalogue/import-template.xlsx",
        description_pages.import_template,
        name="staff-import-template",
    ),
    path("staff/print/<str:form>.pdf", description_pages.print_form, name="staff-print"),
    path(
        "staff/print/volume/<int:pk>/<str:form>.pdf",
        description_pages.print_volume,
        name="staff-print-volume",
    ),
    path(
        "staff/print/box/<int:pk>/<str:form>.pdf",
        description_pages.print_box,
        name="staff-print-box",
    ),
    path("staff/fonds/", description_pages.fonds_list, name="staff-fonds"),
    path("staff/fonds/<int:pk>/", description_pages.fonds_edit, name="staff-fonds-edit"),
    path("staff/codes/preview/", description_pages.code_preview, name="staff-code-preview"),
    path("staff/volumes/lookup/", description_pages.volume_lookup, name="staff-volume-lookup"),
    # staff: opening review
    path("staff/review/", views.staff_review_queue, name="staff-review"),
    path("staff/review/sheet.xlsx", views.staff_review_sheet, name="staff-review-sheet"),
    path(
        "staff/review/sheet/upload/",
        views.staff_review_sheet_upload,
        name="staff-review-sheet-upload",
    ),
    path("staff/review/secrecy/", views.staff_secrecy_reminders, name="staff-secrecy-reminders"),
    path(
        "staff/catalogue/<str:kind>/<int:pk>/classification/",
        views.staff_record_classification,
        name="staff-record-classification",
    ),
    # staff: appraisal and destruction (鉴定与销毁)
    path("staff/appraisal/", views.staff_appraisal, name="staff-appraisal"),
    path(
        "staff/appraisal/destructions/<int:pk>/", views.staff_destruction, name="staff-destruction"
    ),
    path(
        "staff/appraisal/destructions/<int:pk>/register.pdf",
        views.staff_destruction_register,
        name="staff-destruction-register",
    ),
    path(
        "staff/review/<str:kind>/<int:pk>/", views.staff_review_decide, name="staff-review-decide"
    ),
    # staff: locations
    path("staff/locations/", views.staff_rooms, name="staff-rooms"),
    path("staff/locations/where/", views.staff_where_is, name="staff-where-is"),
    path("staff/locations/moves/", views.staff_moves, name="staff-moves"),
    path("staff/locations/rooms/<int:pk>/", views.staff_room, name="staff-room"),
    path("staff/locations/boxes/", views.staff_boxes, name="staff-boxes"),
    path("staff/locations/boxes/<int:pk>/", views.staff_box, name="staff-box"),
    path("staff/labels/", views.staff_labels, name="staff-labels"),
    path("staff/stocktakes/", views.staff_stocktakes, name="staff-stocktakes"),
    path("staff/stocktakes/<int:pk>/", views.staff_stocktake, name="staff-stocktake"),
    path(
        "staff/stocktakes/<int:pk>/report.csv",
        stocktake_export.stocktake_report_csv,
        name="staff-stocktake-csv",
    ),
    path("m/stocktake/<int:pk>/", views.mobile_stocktake, name="mobile-stocktake"),
    # public open catalogue
    path("catalogue/", views.public_fonds_list, name="public-fonds-list"),
    path("catalogue/export.<str:fmt>", views.public_export, name="public-export"),
    path("catalogue/fonds/<str:code>/", views.public_fonds, name="public-fonds"),
    path(
        "catalogue/fonds/<str:code>/<str:category>/",
        views.public_category,
        name="public-category",
    ),
    path("catalogue/<str:kind>/<int:pk>/", views.public_record, name="public-record"),
    path("catalogue/pages/<int:pk>/<str:variant>.jpg", views.page_image, name="page-image"),
]
