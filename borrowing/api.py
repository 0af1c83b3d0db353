"""REST API of the borrowing app (the mobile check-in page uses it). Adapters only."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins
from rest_framework.decorators import action, api_view
from rest_framework.response import Response

from borrowing import services
from borrowing.access import (
    access_loan_for_staff,
    access_loan_for_user,
    access_request_for_staff,
    access_request_for_user,
)
from borrowing.models import (
    AccessRequest,
    Loan,
    RequestLine,
    with_hidden_flag,
)
from borrowing.roles import can_check_in, can_decide_desk_step
from borrowing.serializers import (
    AccessRequestCreateSerializer,
    AccessRequestSerializer,
    CheckOutSerializer,
    DecideSerializer,
    InboxEntrySerializer,
    LoanSerializer,
    RenewSerializer,
    ReturnSerializer,
    ScanResultSerializer,
    ScanSerializer,
)
from core.api import BaseViewSet, router


class AccessRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    """Access requests: staff see those they handle (every record visible to them); everyone
    sees their own, each record by the record door."""

    serializer_class = AccessRequestSerializer

    def get_queryset(self):
        qs = self._readable()
        state = self.request.query_params.get("state")
        if state:
            qs = qs.filter(state=state)
        return qs

    def _readable(self):
        user = self.request.user
        qs = AccessRequest.objects.visible_to(user).select_related("requester")
        lines = RequestLine.objects.select_related("item", "volume")
        if not getattr(self, "swagger_fake_view", False):
            lines = with_hidden_flag(lines, user)
        return qs.prefetch_related(Prefetch("lines", lines), "decisions__decided_by")

    def get_object(self):
        req = access_request_for_user(self.request.user, self.kwargs["pk"])
        return self._readable().get(pk=req.pk)

    @extend_schema(request=AccessRequestCreateSerializer, responses={201: AccessRequestSerializer})
    def create(self, request):
        data = AccessRequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        try:
            records = [
                services.find_record_by_code(code, user=request.user)
                for code in values.pop("records")
            ]
        except services.BorrowingError:
            return Response(
                {"detail": _("You cannot request this record."), "code": "record_not_visible"},
                status=400,
            )
        # A refusal (``core.errors``) is answered by config's exception handler.
        req = services.create_access_request(acting_user=request.user, records=records, **values)
        return Response(AccessRequestSerializer(self._readable().get(pk=req.pk)).data, status=201)

    def _act(self, fn, serializer_class=None, *, own=False, **extra):
        # Staff act on the requests they handle; a requester cancels their own.
        user = self.request.user
        pk = self.kwargs["pk"]
        req = access_request_for_user(user, pk) if own else access_request_for_staff(user, pk)
        kwargs = dict(extra)
        if serializer_class is not None:
            payload = serializer_class(data=self.request.data)
            payload.is_valid(raise_exception=True)
            kwargs.update(payload.validated_data)
        fn(req, acting_user=self.request.user, **kwargs)
        return Response(AccessRequestSerializer(self._readable().get(pk=req.pk)).data)

    @extend_schema(request=DecideSerializer, responses=AccessRequestSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        return self._act(services.decide_access_request, DecideSerializer)

    @extend_schema(request=None, responses=AccessRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(services.cancel_access_request, own=True)

    @extend_schema(request=None, responses=AccessRequestSerializer)
    @action(detail=True, methods=["post"])
    def retrieve_records(self, request, pk=None):
        return self._act(services.retrieve_access_request)

    @extend_schema(request=CheckOutSerializer, responses=AccessRequestSerializer)
    @action(detail=True, methods=["post"])
    def check_out(self, request, pk=None):
        return self._act(services.check_out_access_request, CheckOutSerializer)

    @extend_schema(request=None, responses=AccessRequestSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return self._act(services.close_access_request)


class LoanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    """Loans: staff see those of the requests they handle; borrowers their own."""

    serializer_class = LoanSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Loan.objects.none()
        qs = self._readable()
        if self.request.query_params.get("active") == "true":
            qs = qs.active()
        return qs

    def _readable(self):
        user = self.request.user
        qs = Loan.objects.visible_to(user).select_related("item", "volume", "request", "borrower")
        return with_hidden_flag(qs, user)

    def get_object(self):
        loan = access_loan_for_user(self.request.user, self.kwargs["pk"])
        return self._readable().get(pk=loan.pk)

    @extend_schema(request=ReturnSerializer, responses=LoanSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_loan(self, request, pk=None):
        loan = access_loan_for_staff(request.user, pk)
        payload = ReturnSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.return_loan(loan, acting_user=request.user, **payload.validated_data)
        return Response(LoanSerializer(self._readable().get(pk=loan.pk)).data)

    @extend_schema(request=RenewSerializer, responses=LoanSerializer)
    @action(detail=True, methods=["post"])
    def renew(self, request, pk=None):
        loan = self.get_object()
        payload = RenewSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.renew_loan(loan, acting_user=request.user, **payload.validated_data)
        return Response(LoanSerializer(self._readable().get(pk=loan.pk)).data)


@extend_schema(responses={200: InboxEntrySerializer(many=True)}, operation_id="borrowing_inbox")
@api_view(["GET"])
def inbox(request):
    """待我审批: the requests waiting for a step this user may take, oldest first — the
    approver inbox page's list (``services.awaiting_my_decision``: the borrowing door, the
    step's role and clearance, not one's own request, not a second step). Those who decide no
    step get a 404, as on the page."""
    if not can_decide_desk_step(request.user):
        raise Http404
    waiting = {req.pk: req for req in services.awaiting_my_decision(request.user)}
    lines = with_hidden_flag(RequestLine.objects.select_related("item", "volume"), request.user)
    rows = list(
        AccessRequest.objects.filter(pk__in=waiting)
        .select_related("requester", "purpose")
        .prefetch_related(Prefetch("lines", lines), "decisions__decided_by")
        .order_by("submitted_at", "id")
    )
    for row in rows:
        row.step = waiting[row.pk].step
        row.step_number = waiting[row.pk].step_number
        row.chain_words = services.chain_in_words(row.chain or [])
        row.step_reason = _(str(row.step.get("reason", "")))
        row.approved_by = [d.decided_by.username for d in row.decisions.all()]
    return Response(InboxEntrySerializer(rows, many=True).data)


def _checkin_staff(user) -> None:
    if not can_check_in(user):
        raise Http404


@extend_schema(
    parameters=[OpenApiParameter("code", str, required=True)],
    responses={200: ScanResultSerializer},
    operation_id="checkin_lookup",
)
@api_view(["GET"])
def checkin_lookup(request):
    """The active loan of a scanned or typed record code (no change)."""
    _checkin_staff(request.user)
    return Response(services.lookup_loan(request.query_params.get("code", ""), user=request.user))


@extend_schema(
    request=ScanSerializer, responses={200: ScanResultSerializer}, operation_id="checkin_scan"
)
@api_view(["POST"])
def checkin_scan(request):
    """One check-in scan (return, or re-shelve at a position). Idempotent on ``scan_id``."""
    _checkin_staff(request.user)
    payload = ScanSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    result = services.process_checkin_scan(acting_user=request.user, **payload.validated_data)
    return Response(result.body, status=result.status)


@extend_schema(request=None, responses={200: ScanResultSerializer}, operation_id="checkin_undo")
@api_view(["POST"])
def checkin_undo(request, scan_id):
    """Undo a re-shelving that moved the record: same user, within ``UNDO_WINDOW_SECONDS``."""
    _checkin_staff(request.user)
    return Response(services.undo_shelving(scan_id, request.user))


router.register("borrowing/requests", AccessRequestViewSet, basename="access-request")
router.register("borrowing/loans", LoanViewSet, basename="loan")

api_urlpatterns: list = [
    path("borrowing/inbox/", inbox, name="borrowing-inbox"),
    path("borrowing/checkin/lookup/", checkin_lookup, name="checkin-lookup"),
    path("borrowing/checkin/scans/", checkin_scan, name="checkin-scan"),
    path("borrowing/checkin/scans/<uuid:scan_id>/undo/", checkin_undo, name="checkin-undo"),
]
