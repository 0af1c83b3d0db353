"""Staff pages of classification (保密期限, 解密), the secrecy reminder queue, appraisal (鉴定)
and supervised destruction (销毁, 销毁清册). Thin adapters over
``repository.services.classification`` and ``repository.services.appraisal``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.roles import is_staff
from core.errors import DomainError
from repository import access, listing, services
from repository.choices import AppraisalDecision
from repository.forms import RecordForm
from repository.models import Appraisal, Destruction, Fonds
from repository.review_forms import AppraisalForm, DeclassifyForm, DestructionForm, SecrecyForm
from repository.views.common import archivist_required


@archivist_required
@require_http_methods(["GET", "POST"])
def staff_record_classification(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """The record's 密级 with its 保密期限, and the declassification decision."""
    record = access.access_record_for_change(request.user, kind, pk)
    action = request.POST.get("action")
    secrecy_form = SecrecyForm(request.POST if action == "secrecy" else None)
    declassify_form = DeclassifyForm(request.POST if action == "declassify" else None)
    form = secrecy_form if action == "secrecy" else declassify_form
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if action == "secrecy":
                services.set_secrecy_term(record, acting_user=request.user, **data)
            else:
                services.declassify_record(record, acting_user=request.user, **data)
        except ValidationError as exc:
            RecordForm.add_service_errors(form, exc)
        except (DomainError, PermissionDenied) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("repository:staff-record", kind=kind, pk=pk)
    return render(
        request,
        "repository/staff/classification.html",
        {
            "record": record,
            "kind": kind,
            "secrecy": services.term_of(record),
            "secrecy_form": secrecy_form,
            "declassify_form": declassify_form,
            "declassifications": record.declassifications.select_related("recorded_by"),
        },
    )


@archivist_required
def staff_secrecy_reminders(request: HttpRequest) -> HttpResponse:
    try:
        days = max(0, min(int(request.GET.get("days", 90)), 3650))
    except ValueError:
        days = 90
    rows = [
        ("volume" if t.volume_id else "item", t.volume or t.item, t)
        for t in services.secrecy_reminders(within_days=days, user=request.user)[:500]
    ]
    return render(request, "repository/staff/secrecy_reminders.html", {"rows": rows, "days": days})


def _fonds_ids(user) -> list[int]:
    return [f.pk for f in Fonds.objects.all() if access.can_change_fonds(user, f)]


@archivist_required
@require_http_methods(["GET", "POST"])
def staff_appraisal(request: HttpRequest) -> HttpResponse:
    """Records whose 保管期限 ran out (the appraisal queue) with a decision on a selection,
    and the appraised records waiting for a supervised destruction."""
    kind = request.GET.get("kind") if request.GET.get("kind") in listing.KINDS else "item"
    action = request.POST.get("action")
    appraisal_form = AppraisalForm(request.POST if action == "appraise" else None)
    destruction_form = DestructionForm(request.POST if action == "destroy" else None)
    if action == "appraise" and appraisal_form.is_valid():
        records = services.records_for_keys(request.POST.getlist("selected"), user=request.user)
        try:
            if not records:
                raise ValidationError(_("Select at least one record."))
            services.appraise_records(
                records, acting_user=request.user, **appraisal_form.cleaned_data
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Appraisal recorded."))
            return redirect(request.get_full_path())
    if action == "destroy" and destruction_form.is_valid():
        data = destruction_form.cleaned_data
        # The second supervisor (监销人) confirms with their own password.
        second = authenticate(
            request, username=data["second_supervisor"], password=data["second_password"]
        )
        chosen = Appraisal.objects.filter(
            pk__in=[p for p in request.POST.getlist("appraisal") if p.isdigit()],
            fonds_id__in=_fonds_ids(request.user),
        )
        try:
            if second is None or not is_staff(second):
                raise ValidationError(_("The second supervisor's user name or password is wrong."))
            destruction = services.destroy_records(
                chosen,
                supervisors=[request.user, second],
                method=data["method"],
                place=data["place"],
                destroyed_on=data["destroyed_on"],
                acting_user=request.user,
            )
        except (ValidationError, DomainError) as exc:
            for message in getattr(exc, "messages", [str(exc)]):
                messages.error(request, message)
        else:
            messages.success(request, _("Destruction recorded."))
            return redirect("repository:staff-destruction", pk=destruction.pk)
    model = listing.KINDS[kind]
    return render(
        request,
        "repository/staff/appraisal.html",
        {
            "kind": kind,
            "queue": services.appraisal_queue_for(model, user=request.user, limit=200),
            "pending": Appraisal.objects.filter(
                decision=AppraisalDecision.DESTROY,
                destroyed=False,
                fonds_id__in=_fonds_ids(request.user),
            ).order_by("reference_code")[:500],
            "appraisal_form": appraisal_form,
            "destruction_form": destruction_form,
            "destructions": Destruction.objects.filter(
                fonds_id__in=_fonds_ids(request.user)
            ).select_related("fonds")[:50],
        },
    )


def _destruction(user, pk: int) -> Destruction:
    destruction = Destruction.objects.filter(pk=pk, fonds_id__in=_fonds_ids(user)).first()
    if destruction is None:
        raise Http404
    return destruction


@archivist_required
def staff_destruction(request: HttpRequest, pk: int) -> HttpResponse:
    destruction = _destruction(request.user, pk)
    return render(
        request,
        "repository/staff/destruction.html",
        {
            "destruction": destruction,
            "tombstones": destruction.tombstones.select_related("appraisal"),
        },
    )


@archivist_required
def staff_destruction_register(request: HttpRequest, pk: int) -> HttpResponse:
    """销毁清册 (PDF)."""
    destruction = _destruction(request.user, pk)
    response = HttpResponse(services.register_pdf(destruction), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="destruction-{destruction.pk}.pdf"'
    return response
