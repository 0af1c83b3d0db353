"""Catalogue imports: queue a dry run or a commit, read a job's progress."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from repository import import_jobs
from repository.api.roles import ImportRoles


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="catalogue file (.csv or .xlsx)")
    kind = serializers.RegexField(r"^(item|volume)$", default="item", help_text="item or volume")
    encoding = serializers.ChoiceField(
        choices=["", "utf-8-sig", "gb18030"], default="", help_text="empty: detect UTF-8 or GBK"
    )
    all_or_nothing = serializers.BooleanField(default=False)
    dry_run = serializers.BooleanField(default=True, help_text="check only, write nothing")


class ImportJobSerializer(serializers.Serializer):
    id = serializers.CharField()
    mode = serializers.CharField(help_text="dry_run or commit")
    state = serializers.CharField(help_text="queued, running, done or failed")
    rows_done = serializers.IntegerField()
    rows_total = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    result = serializers.DictField()
    url = serializers.URLField()
    page = serializers.URLField()
    rejected = serializers.URLField(allow_null=True)


def _import_job_data(request, job) -> dict:
    data = import_jobs.job_status(job)
    data["url"] = request.build_absolute_uri(reverse("api-import-job", args=[job.token]))
    data["page"] = request.build_absolute_uri(
        reverse("repository:staff-import-job", args=[job.token])
    )
    rejected = job.state == "done" and job.rejected_path
    data["rejected"] = (
        request.build_absolute_uri(reverse("repository:staff-import-rejected", args=[job.token]))
        if rejected
        else None
    )
    return data


class ImportJobsView(APIView):
    """Queue a catalogue import (a dry run unless ``dry_run`` is false): 202 with the job's URL;
    the ``run_imports`` worker runs it."""

    permission_classes = [ImportRoles]

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer},
        responses={202: ImportJobSerializer},
    )
    def post(self, request):
        serializer = ImportUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            job = import_jobs.create_job(
                data["file"],
                data["file"].name,
                acting_user=request.user,
                kind=data["kind"],
                encoding=data["encoding"] or None,
                all_or_nothing=data["all_or_nothing"],
                dry_run=data["dry_run"],
            )
        except import_jobs.ImportFileError as exc:
            raise serializers.ValidationError({"file": [str(exc)]}) from None
        body = _import_job_data(request, job)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class ImportJobView(APIView):
    """An import job's state and progress (only its owner and administrators see it)."""

    permission_classes = [ImportRoles]

    @extend_schema(responses=ImportJobSerializer)
    def get(self, request, token: str):
        return Response(_import_job_data(request, import_jobs.job_for(request.user, token)))


class ImportJobCommitView(APIView):
    """Queue the commit of a finished dry run: 202 with the new job's URL."""

    permission_classes = [ImportRoles]

    @extend_schema(request=None, responses={202: ImportJobSerializer})
    def post(self, request, token: str):
        dry_run = import_jobs.job_for(request.user, token)
        if import_jobs.job_report(dry_run) is None:
            raise serializers.ValidationError({"id": ["Only a finished dry run can be committed."]})
        job = import_jobs.commit_job(dry_run, acting_user=request.user)
        body = _import_job_data(request, job)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})
