"""Pages of the borrowing app. Thin adapters: parse, one access helper, one service, render."""

from __future__ import annotations

import csv
import re
from collections import OrderedDict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import ReaderProfile
from accounts.permissions import requires
from borrowing import digital, pdf, services, statistics
from borrowing.access import (
    access_loan_for_staff,
    access_own_request,
    access_request_for_staff,
)
from borrowing.choices import LineDecision, RequestState
from borrowing.forms import (
    AccessRequestForm,
    CheckOutForm,
    DecisionForm,
    EffectForm,
    RenewForm,
    ReturnForm,
    ServeForm,
)
from borrowing.models import (
    AccessRequest,
    AccessSettings,
    DigitalGrant,
    Loan,
    RequestLine,
    with_hidden_flag,
)
from borrowing.roles import (
    can_check_in,
    can_decide_desk_step,
    can_read_statistics,
    can_retrieve,
    can_serve_desk,
    is_borrowing_staff,
)
from core.errors import refusal_redirect
from core.output import spreadsheet_cell
from repository import images
from repository.access import find_record
from repository.models import Item, Volume
from storage_env.choices import OPEN_STATES
from storage_env.models import Alarm

QUEUE_PAGE_SIZE = 50


def _request_page(request: HttpRequest, pk: int, **kwargs) -> str:
    return reverse("borrowing:request-detail", args=[pk])


def _loan_request_page(request: HttpRequest, pk: int, **kwargs) -> str:
    request_id = Loan.objects.filter(pk=pk).values_list("request_id", flat=True).first()
    return reverse("borrowing:request-detail", args=[request_id])


# --- front desk ------------------------------------------------------------------------------


@requires(is_borrowing_staff)
def desk(request: HttpRequest) -> HttpResponse:
    """The front-desk queue: requests by state, with a count per state — only the requests
    the viewer handles (every record visible to them), in the rows and in the counts."""
    handled = AccessRequest.objects.handled_by(request.user)
    counts = state_counts(handled)
    query = (request.GET.get("q") or "").strip()[:64]
    state = request.GET.get("state") or RequestState.SUBMITTED
    if state not in RequestState.values:
        state = RequestState.SUBMITTED
    # The page first (index on state, submitted_at), then the line counts of just those rows.
    found = desk_search(handled, query, request.user) if query else handled.filter(state=state)
    rows = list(
        found.select_related("requester", "purpose").order_by("submitted_at", "id")[
            :QUEUE_PAGE_SIZE
        ]
    )
    counts_by_request = dict(
        RequestLine.objects.filter(request__in=[r.pk for r in rows])
        .values_list("request")
        .annotate(n=Count("id"))
        .values_list("request", "n")
    )
    for row in rows:
        row.n_lines = counts_by_request.get(row.pk, 0)
    tabs = [
        (value, label, counts.get(value, 0))
        for value, label in RequestState.choices
        if value != RequestState.DRAFT
    ]
    return render(
        request,
        "borrowing/desk.html",
        {
            "tabs": tabs,
            "state": "" if query else state,
            "rows": rows,
            "count_cap": COUNT_CAP,
            "q": query,
        },
    )


def desk_search(handled, query: str, user):
    """The desk's search, inside the door: a request number (JY00000012 or 12), an applicant
    (user name, display name, registered real name), the last four characters of an identity
    document, or a record's reference code or slip code (one finder, ``find_record``)."""
    text = query.strip()
    cond = Q(requester__username__icontains=text) | Q(requester__display_name__icontains=text)
    cond |= Q(requester__reader_profile__real_name__icontains=text)
    number = text.upper().removeprefix("JY")
    if re.fullmatch(r"[0-9]{1,12}", number):  # ASCII digits only ("²".isdigit() is true)
        cond |= Q(pk=int(number))
    if len(text) == 4 and text.isalnum():
        cond |= Q(id_number_last4=text.upper())
    record = find_record(user, text)
    if record is not None:
        cond |= Q(lines__in=RequestLine.objects.filter(**services.line_kwargs(record)))
    return handled.filter(cond).distinct()


COUNT_CAP = 1000


def state_counts(requests) -> dict[str, int]:
    states = [s for s in RequestState.values if s != RequestState.DRAFT]
    return requests.capped_state_counts(states, COUNT_CAP)


def _warnings(req: AccessRequest) -> list[str]:
    warnings = []
    profile = ReaderProfile.objects.filter(user_id=req.requester_id).first()
    today = timezone.localdate()
    if profile is not None and profile.id_expired_on(today):  # checked again at each visit
        warnings.append(
            _("The identity document expired on %(date)s.") % {"date": profile.id_document_expires}
        )
    elif profile is None and req.id_document_expired:
        warnings.append(
            _("The identity document expired on %(date)s.") % {"date": req.id_document_expires}
        )
    for line in req.lines.select_related("item__position", "volume__position"):
        record = line.record
        other = Loan.objects.active().filter(**services.line_kwargs(record)).exclude(request=req)
        if other.exists():
            warnings.append(
                _("%(code)s is on loan to another request.") % {"code": record.reference_code}
            )
        alarm = _room_alarm(record)
        if alarm:
            warnings.append(alarm)
    return warnings


def _room_alarm(record) -> str | None:
    """A warning when the record's room has an open climate alarm (storage_env)."""
    if not record.position_id:
        return None

    room_id = record.position.room_id
    if Alarm.objects.filter(room_id=room_id, state__in=OPEN_STATES).exists():
        return _("%(code)s is in a room with an open climate alarm.") % {
            "code": record.reference_code
        }
    return None


@requires(is_borrowing_staff)
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    req = access_request_for_staff(request.user, pk)
    lines = list(req.lines.select_related("item", "volume", "item__position", "volume__position"))
    pending = [line for line in lines if line.decision != LineDecision.REFUSED]
    step = services.current_step(req)
    chain = [
        {"words": words, "reason": _(str(s.get("reason", "")))}
        for words, s in zip(services.chain_in_words(req.chain or []), req.chain or [], strict=True)
    ]
    loans = list(req.loans.select_related("item", "volume", "line"))
    context = {
        "req": req,
        "lines": lines,
        "chain": chain,
        "decisions": req.decisions.select_related("decided_by"),
        "loans": loans,
        "warnings": _warnings(req),
        "step": step,
        "step_number": req.decisions.count() + 1,
        "can_decide": step is not None and services.can_decide_step(request.user, step, req),
        "decision_form": DecisionForm(lines=pending),
        "checkout_form": CheckOutForm(),
        "renew_form": RenewForm(),
        "return_form": ReturnForm(),
        "serve_form": ServeForm(),
        "effect_form": EffectForm(),
        "is_desk": can_serve_desk(request.user),
        "slip_ready": req.state in SLIP_STATES,
        "profile": ReaderProfile.objects.filter(user_id=req.requester_id).first(),
    }
    return render(request, "borrowing/request_detail.html", context)


# The slip is printed once the request is approved (never for one still waiting or refused).
SLIP_STATES = frozenset(
    {
        RequestState.APPROVED,
        RequestState.PARTLY_APPROVED,
        RequestState.RETRIEVED,
        RequestState.CHECKED_OUT,
        RequestState.OVERDUE,
        RequestState.RETURNED,
        RequestState.CLOSED,
    }
)


@requires(can_decide_desk_step)
def inbox(request: HttpRequest) -> HttpResponse:
    """待我审批: what waits for this user's decision, each with the records' 密级 and 开放标识,
    why approval is needed, the chain in words and who approved already."""
    rows = services.awaiting_my_decision(request.user)
    lines = RequestLine.objects.filter(request__in=[r.pk for r in rows]).select_related(
        "item", "volume"
    )
    by_request: dict[int, list] = {}
    for line in lines:
        by_request.setdefault(line.request_id, []).append(line)
    for row in rows:
        row.inbox_lines = by_request.get(row.pk, [])
        row.chain_words = services.chain_in_words(row.chain or [])
        row.step_reason = _(str(row.step.get("reason", "")))
        row.approved_by = [d.decided_by for d in row.decisions.all()]
    return render(request, "borrowing/inbox.html", {"rows": rows})


def inbox_count(user) -> int:
    return len(services.awaiting_my_decision(user))


# A refusal (``core.errors``: a BorrowingError, an IllegalTransition on a double click) goes
# through config.middleware_errors: its message, and back to the request's page.
@refusal_redirect(_request_page)
@require_POST
@requires(is_borrowing_staff)
def request_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    req = access_request_for_staff(request.user, pk)
    user = request.user
    if action == "decide":
        lines = req.lines.exclude(decision=LineDecision.REFUSED)
        form = DecisionForm(request.POST, lines=lines)
        if not form.is_valid():
            raise services.BorrowingError(_("Check the form."))
        approve = [] if request.POST.get("reject") else form.cleaned_data["approve"]
        services.decide_access_request(
            req, acting_user=user, approve=approve, reason=form.cleaned_data["reason"]
        )
        messages.success(request, _("Decision recorded."))
    elif action == "retrieve":
        services.retrieve_access_request(req, acting_user=user)
        messages.success(request, _("Marked as retrieved."))
    elif action == "checkout":
        form = CheckOutForm(request.POST)
        if not form.is_valid():
            raise services.BorrowingError(_("Give a valid due date."))
        services.check_out_access_request(req, acting_user=user, **form.cleaned_data)
        messages.success(request, _("Checked out."))
    elif action == "effect":
        form = EffectForm(request.POST)
        if not form.is_valid():
            raise services.BorrowingError(_("Choose what the use achieved."))
        services.record_use_effect(req, acting_user=user, **form.cleaned_data)
        messages.success(request, _("Effect of use recorded."))
    elif action == "close":
        services.close_access_request(req, acting_user=user)
    elif action == "cancel":
        services.cancel_access_request(req, acting_user=user)
    else:
        raise Http404
    return redirect("borrowing:request-detail", pk=req.pk)


@refusal_redirect(_loan_request_page)
@require_POST
@requires(can_check_in)
def loan_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    loan = access_loan_for_staff(request.user, pk)
    if action in ("return", "count"):
        form = ReturnForm(request.POST)
        data = form.cleaned_data if form.is_valid() else {"counted": None, "condition": ""}
        if action == "return":
            services.return_loan(loan, acting_user=request.user, **data)
            messages.success(request, _("Returned."))
        else:
            services.record_return_count(loan, acting_user=request.user, **data)
            messages.success(request, _("Count recorded."))
    elif action == "renew":
        form = RenewForm(request.POST)
        due = form.cleaned_data.get("due_date") if form.is_valid() else None
        services.renew_loan(loan, acting_user=request.user, due_date=due)
        messages.success(request, _("Renewed."))
    else:
        raise Http404
    return redirect("borrowing:request-detail", pk=loan.request_id)


def _line_request_page(request: HttpRequest, pk: int, **kwargs) -> str:
    request_id = RequestLine.objects.filter(pk=pk).values_list("request_id", flat=True).first()
    return reverse("borrowing:request-detail", args=[request_id])


@refusal_redirect(_line_request_page)
@require_POST
@requires(can_serve_desk)
def line_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Hand over a copy or a certificate (``serve``)."""
    line = _line_for_staff(request.user, pk)
    if action != "serve":
        raise Http404
    form = ServeForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {}
    services.serve_line(line, acting_user=request.user, **data)
    messages.success(request, _("Handed over."))
    return redirect("borrowing:request-detail", pk=line.request_id)


def _line_for_staff(user, pk) -> RequestLine:
    try:
        return RequestLine.objects.select_related("request", "item", "volume").get(
            pk=int(pk), request__in=AccessRequest.objects.handled_by(user)
        )
    except (RequestLine.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None


@requires(is_borrowing_staff)
def certificate_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The numbered certificate (or certified copy's certificate) of a served line."""
    line = _line_for_staff(request.user, pk)
    if not line.certificate_number:
        raise Http404
    return _pdf(pdf.certificate(line), f"{line.certificate_number}.pdf")


@refusal_redirect(_request_page)
@requires(is_borrowing_staff)
def slip_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    req = access_request_for_staff(request.user, pk)
    if req.state not in SLIP_STATES:
        raise services.Conflict(
            _("The slip is printed once the request is approved."), code="not_approved"
        )
    return _pdf(pdf.borrowing_slip(req), f"{req.number}-slip.pdf")


@requires(is_borrowing_staff)
def receipt_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    req = access_request_for_staff(request.user, pk)
    if not req.loans.exclude(returned_at=None).exists():
        raise Http404
    return _pdf(pdf.return_receipt(req), f"{req.number}-receipt.pdf")


def _pdf(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def retrieval_groups(user) -> OrderedDict:
    """Approved records waiting to be fetched (取档单), grouped by room, in shelf order; only
    requests the user handles (every record of each visible to them)."""
    lines = RequestLine.objects.filter(
        request__in=AccessRequest.objects.handled_by(user),
        decision=LineDecision.APPROVED,
        request__state__in=[RequestState.APPROVED, RequestState.PARTLY_APPROVED],
    ).select_related("request", "item__position__room", "volume__position__room")
    entries = []
    for line in lines:
        record = line.record
        position = record.position
        entries.append(
            {
                "record": record,
                "request": line.request,
                "position": position,
                "room": position.room if position else None,
                "sort": (position.path if position else "~", record.reference_code),
            }
        )
    entries.sort(key=lambda e: e["sort"])
    groups: OrderedDict = OrderedDict()
    for entry in entries:
        groups.setdefault(entry["room"], []).append(entry)
    return groups


@requires(can_retrieve)
def retrieval_list(request: HttpRequest) -> HttpResponse:
    groups = retrieval_groups(request.user)
    if request.GET.get("format") == "pdf":
        return _pdf(pdf.retrieval_list(groups), "retrieval-list.pdf")
    return render(request, "borrowing/retrieval.html", {"groups": groups})


@requires(can_read_statistics)
def statistics_page(request: HttpRequest) -> HttpResponse:
    year = request.GET.get("year", "")
    try:
        year_int = int(year) if year else timezone.localdate().year
        if not 2000 <= year_int <= 2100:
            raise ValueError
    except ValueError:
        year_int = timezone.localdate().year
    data = statistics.monthly(year_int, user=request.user)
    if request.GET.get("format") == "xlsx":
        archive = AccessSettings.current().archive_name
        response = HttpResponse(
            statistics.annual_report_xlsx(data, archive_name=archive),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="use-{year_int}.xlsx"'
        return response
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="usage-{year_int}.csv"'
        response.write("\ufeff")
        writer = csv.writer(response)
        writer.writerow([_("Month"), _("Dimension"), _("Value"), _("Count")])
        for row in data["rows"]:
            cells = (row["month"], row["dimension"], row["label"], row["count"])
            writer.writerow([spreadsheet_cell(cell) for cell in cells])
        return response
    data["breakdowns"] = [
        (title, statistics.breakdown(data, dimension))
        for dimension, title in (
            ("purpose", _("Person-visits by purpose of use")),
            ("method", _("Uses (volumes and items) by method of use")),
            ("user_type", _("Person-visits by user type")),
            ("fonds", _("Uses (volumes and items) by fonds")),
        )
    ]
    return render(request, "borrowing/statistics.html", {"data": data, "year": year_int})


@requires(can_read_statistics)
def use_register_pdf(request: HttpRequest) -> HttpResponse:
    """利用登记簿 for ``?from=YYYY-MM-DD&to=YYYY-MM-DD`` (default: this month so far)."""
    start, end = statistics.register_period(request.GET.get("from", ""), request.GET.get("to", ""))
    register = statistics.use_register(start, end, user=request.user)
    return _pdf(pdf.use_register(register), f"use-register-{start:%Y%m%d}-{end:%Y%m%d}.pdf")


@requires(can_check_in)
def checkin(request: HttpRequest) -> HttpResponse:
    return render(request, "borrowing/checkin.html")


# --- public side -----------------------------------------------------------------------------


BASKET_KEY = "borrowing_basket"


def _requestable(user, kind: str, pk):
    """A record ``user`` may ask for (record door, or a metadata-only entry), else 404."""
    model = Item if kind == "item" else Volume
    try:
        record = model.objects.get(pk=int(pk))
    except (model.DoesNotExist, TypeError, ValueError, OverflowError):
        raise Http404 from None
    if not services.requestable(record, user):
        raise Http404
    return record


def _record_from_query(request: HttpRequest):
    for key in ("item", "volume"):
        value = request.GET.get(key) or request.POST.get(key)
        if value:
            return _requestable(request.user, key, value)
    raise Http404


def _basket(request: HttpRequest) -> list[str]:
    return [code for code in request.session.get(BASKET_KEY, []) if isinstance(code, str)][
        : services.MAX_LINES
    ]


def _basket_records(request: HttpRequest) -> list:
    records = []
    for code in _basket(request):
        kind = "item" if code.startswith("I") else "volume"
        try:
            records.append(_requestable(request.user, kind, code[1:]))
        except Http404:
            continue  # left the reader's view since: dropped quietly
    return records


@login_required
def basket(request: HttpRequest) -> HttpResponse:
    """The request basket: records gathered for one request (one approval)."""
    if request.method == "POST":
        action = request.POST.get("action")
        codes = _basket(request)
        if action == "clear":
            codes = []
        else:
            record = _record_from_query(request)
            code = services.record_code(record)
            if action == "remove":
                codes = [c for c in codes if c != code]
            elif code not in codes and len(codes) < services.MAX_LINES:
                codes.append(code)
        request.session[BASKET_KEY] = codes
        return redirect(request.POST.get("next") or reverse("borrowing:basket"))
    records = _basket_records(request)
    for record in records:
        record.kind = services.record_kind(record)
    return render(request, "borrowing/basket.html", {"records": records})


@login_required
def controlled_catalogue(request: HttpRequest) -> HttpResponse:
    """The metadata-only entries: controlled records of the fonds the settings list, by
    reference code and title only, so that a reader can ask for them with a purpose."""
    query = (request.GET.get("q") or "").strip()[:100]
    items = services.metadata_listed(Item, request.user).select_related("fonds")
    if query:
        items = items.filter(Q(reference_code__icontains=query) | Q(title__icontains=query))
    rows = list(
        items.order_by("reference_code").only("pk", "reference_code", "title", "fonds")[:100]
    )
    return render(request, "borrowing/controlled_catalogue.html", {"rows": rows, "q": query})


@login_required
def digital_copy(request: HttpRequest, pk: int) -> HttpResponse:
    grant = digital.access_grant_for_user(request.user, pk)
    pages = digital._pages(grant.record).values_list("page_number", flat=True)
    return render(request, "borrowing/digital_copy.html", {"grant": grant, "pages": pages})


@login_required
def digital_page(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """One page of a granted digital copy: the web derivative with the "仅供查阅" watermark."""
    page = digital.access_page_for_user(request.user, pk, number)
    digital.record_copy_view(page, acting_user=request.user)
    response = HttpResponse(
        images.render_variant(page, "web", watermark=True), content_type="image/jpeg"
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def new_request(request: HttpRequest) -> HttpResponse:
    """Ask for one record (``?item=``/``?volume=``) or for the basket's records: one request,
    one approval, each record with its method of use, one purpose."""
    from_basket = not (request.GET.get("item") or request.GET.get("volume"))
    records = _basket_records(request) if from_basket else [_record_from_query(request)]
    if not records:
        messages.info(request, _("Your basket is empty."))
        return redirect("borrowing:basket")
    user = request.user
    registered = ReaderProfile.objects.filter(user=user).exists()
    form = AccessRequestForm(
        request.POST or None, records=records, staff=user.is_archive_staff, registered=registered
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            req = services.create_access_request(
                acting_user=user,
                lines=form.lines(),
                purpose=data["purpose"],
                date_from=data["date_from"],
                date_to=data.get("date_to"),
                note=data["note"],
                id_document_type=data.get("id_document_type", ""),
                id_number=data.get("id_number", ""),
                id_document_expires=data.get("id_document_expires"),
            )
        except services.BorrowingError as exc:
            form.add_error(None, exc)
        else:
            if from_basket:
                request.session[BASKET_KEY] = []
            messages.success(request, _("Request %(number)s submitted.") % {"number": req.number})
            return redirect("borrowing:my-request", pk=req.pk)
    return render(
        request,
        "borrowing/request_new.html",
        {"form": form, "records": records, "record": records[0]},
    )


@login_required
def my_requests(request: HttpRequest) -> HttpResponse:
    rows = AccessRequest.objects.filter(requester=request.user).annotate(n_lines=Count("lines"))[
        :200
    ]
    return render(request, "borrowing/my_requests.html", {"rows": rows})


@login_required
def my_request(request: HttpRequest, pk: int) -> HttpResponse:
    req = access_own_request(request.user, pk)
    if request.method == "POST":  # a refusal: config.middleware_errors, back to this page
        if request.POST.get("action") == "effect":
            form = EffectForm(request.POST)
            if not form.is_valid():
                raise services.BorrowingError(_("Choose what the use achieved."))
            services.record_use_effect(req, acting_user=request.user, **form.cleaned_data)
            messages.success(request, _("Effect of use recorded."))
        else:
            services.cancel_access_request(req, acting_user=request.user)
            messages.success(request, _("Request cancelled."))
        return redirect("borrowing:my-request", pk=req.pk)
    # The requester reads each record by the record door (for a researcher: the public rules);
    # a record that has since left their view is listed without its code and title.
    user = request.user
    context = {
        "req": req,
        "lines": with_hidden_flag(req.lines.select_related("item", "volume"), user),
        "loans": with_hidden_flag(req.loans.select_related("item", "volume"), user),
        "grants": with_hidden_flag(
            DigitalGrant.objects.filter(
                request=req, revoked_at=None, expires_at__gt=timezone.now()
            ).select_related("item", "volume"),
            user,
        ).filter(hidden=False),
        "can_cancel": req.can_transition(RequestState.CANCELLED),
        "effect_form": EffectForm(),
        "can_record_effect": req.state in (RequestState.RETURNED, RequestState.CLOSED),
    }
    return render(request, "borrowing/my_request.html", context)
