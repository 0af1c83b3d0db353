"""Staff pages of catalogue imports: upload, a job's progress, its rejected rows."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from repository import import_jobs, imports
from repository.forms import ImportForm
from repository.views.common import archivist_required


@archivist_required
@require_http_methods(["GET", "POST"])
def staff_import(request: HttpRequest) -> HttpResponse:
    """Upload a CSV/XLSX: a background dry run is queued and its page follows it; the commit of
    a finished dry run (``token`` + ``commit``) is queued the same way."""
    if request.method == "POST" and request.POST.get("token"):
        dry_run = import_jobs.job_for(request.user, request.POST["token"])
        if request.POST.get("commit") != "1" or import_jobs.job_report(dry_run) is None:
            return redirect("repository:staff-import-job", token=dry_run.token)
        job = import_jobs.commit_job(dry_run, acting_user=request.user)
        return redirect("repository:staff-import-job", token=job.token)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_jobs.create_job(
                upload,
                upload.name,
                acting_user=request.user,
                kind=form.cleaned_data["kind"],
                encoding=form.cleaned_data["encoding"] or None,
                all_or_nothing=form.cleaned_data["all_or_nothing"],
            )
        except import_jobs.ImportFileError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("repository:staff-import-job", token=job.token)
    return render(request, "repository/staff/import.html", {"form": form})


@archivist_required
def staff_import_job(request: HttpRequest, token: str) -> HttpResponse:
    """An import job: a progress bar while it runs, then the report (as the old page had)."""
    job = import_jobs.job_for(request.user, token)
    report = import_jobs.job_report(job)
    return render(
        request,
        "repository/staff/import_job.html",
        {
            "job": job,
            "report": report,
            "token": job.token,
            "errors": report.errors if report else [],
        },
    )


@archivist_required
def staff_import_job_status(request: HttpRequest, token: str) -> HttpResponse:
    response = JsonResponse(import_jobs.job_status(import_jobs.job_for(request.user, token)))
    response["Cache-Control"] = "no-store"
    return response


@archivist_required
def staff_import_rejected(request: HttpRequest, token: str) -> HttpResponse:
    report = import_jobs.rejected_report(import_jobs.job_for(request.user, token))
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(
            imports.rejected_xlsx(report),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = 'attachment; filename="rejected.xlsx"'
        return response
    response = HttpResponse(imports.rejected_csv(report), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="rejected.csv"'
    return response
