"""URLs of the borrowing app, mounted at the site root by config/urls.py."""

from django.urls import path

from borrowing import views

app_name = "borrowing"

urlpatterns = [
    path("staff/borrowing/", views.desk, name="desk"),
    path("staff/borrowing/requests/<int:pk>/", views.request_detail, name="request-detail"),
    path(
        "staff/borrowing/requests/<int:pk>/<slug:action>/",
        views.request_action,
        name="request-action",
    ),
    path("staff/borrowing/inbox/", views.inbox, name="inbox"),
    path("staff/borrowing/requests/<int:pk>/slip.pdf", views.slip_pdf, name="slip-pdf"),
    path(
        "staff/borrowing/lines/<int:pk>/certificate.pdf",
        views.certificate_pdf,
        name="certificate-pdf",
    ),
    path("staff/borrowing/lines/<int:pk>/<slug:action>/", views.line_action, name="line-action"),
    path("staff/borrowing/requests/<int:pk>/receipt.pdf", views.receipt_pdf, name="receipt-pdf"),
    path("staff/borrowing/loans/<int:pk>/<slug:action>/", views.loan_action, name="loan-action"),
    path("staff/borrowing/retrieval/", views.retrieval_list, name="retrieval"),
    path("staff/borrowing/statistics/", views.statistics_page, name="statistics"),
    path("staff/borrowing/statistics/register.pdf", views.use_register_pdf, name="use-register"),
    path("m/checkin/", views.checkin, name="checkin"),
    path("requests/", views.my_requests, name="my-requests"),
    path("requests/new/", views.new_request, name="new-request"),
    path("requests/basket/", views.basket, name="basket"),
    path("requests/controlled/", views.controlled_catalogue, name="controlled-catalogue"),
    path("requests/<int:pk>/", views.my_request, name="my-request"),
    path("copies/<int:pk>/", views.digital_copy, name="digital-copy"),
    path("copies/<int:pk>/pages/<int:number>/", views.digital_page, name="digital-page"),
]
