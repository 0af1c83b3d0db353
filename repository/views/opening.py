"""Staff pages of the opening review (开放审核): the queue and a decision."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from repository import access, listing, services
from repository.forms import DecisionForm, RecordForm
from repository.models import Fonds
from repository.views.common import archivist_required


@archivist_required
def staff_review_queue(request: HttpRequest) -> HttpResponse:
    fonds_ids = [f.pk for f in Fonds.objects.all() if access.can_review(request.user, f)]
    rows = []
    for kind, model in listing.KINDS.items():
        queue = services.review_queue_for(model).filter(fonds_id__in=fonds_ids)
        queue = queue.visible_to(request.user).select_related("fonds", "category")[:100]
        rows += [(kind, r) for r in queue]
    return render(request, "repository/staff/review_queue.html", {"rows": rows})


@archivist_required
@require_http_methods(["GET", "POST"])
def staff_review_decide(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = access.access_record_for_change(request.user, kind, pk)
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.decide_opening(
                record,
                form.cleaned_data["decision"],
                acting_user=request.user,
                reason=form.cleaned_data["reason"],
                next_review_on=form.cleaned_data["next_review_on"],
                withheld_pages=form.cleaned_data["withheld_pages"],
            )
        except ValidationError as exc:
            RecordForm.add_service_errors(form, exc)
        else:
            messages.success(request, _("Decision recorded."))
            return redirect("repository:staff-review")
    return render(
        request,
        "repository/staff/review_decide.html",
        {"form": form, "record": record, "kind": kind},
    )
