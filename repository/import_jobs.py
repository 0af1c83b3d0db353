"""Catalogue imports as background jobs (``ImportJob``), run by ``manage.py run_imports``.

The request only stores the file and queues a job; the worker claims it, counts the rows
(``rows_total``), then runs ``imports.import_catalogue`` in a thread of its own while the worker's
main thread writes the progress (``rows_done``), the job's heartbeat and the worker's heartbeat
through its own connection, so they are visible while the import's transaction is still open.

Exactly once: the job is marked done inside the import's own transaction, on condition that it
is still this attempt's (``state=running, attempts=<n>``). A worker that died rolled its
transaction back with it, so a job with a stale heartbeat is queued again and re-run from the
start; a worker thought dead that finishes late finds its attempt superseded and rolls back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from django.utils.translation import get_language, override
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.roles import can_administer
from repository import imports
from repository.imports import ImportFileError, ImportReport, RowError
from repository.models import Fonds, ImportJob

log = logging.getLogger("lantai.imports")

State = ImportJob.State
Mode = ImportJob.Mode
ERRORS_KEPT = 500  # row problems kept in the job's result (the rejected file has them all)
MAX_ATTEMPTS = 3  # a job whose worker died this often fails instead of being queued again


def stale_after() -> int:
    """Seconds without a job heartbeat after which its worker is taken for dead."""
    return int(getattr(settings, "IMPORT_JOB_STALE_SECONDS", 60))


class Interrupted(Exception):
    """The worker was asked to stop: the import's transaction is rolled back, the job queued."""


class Superseded(Exception):
    """The job was re-queued (this worker looked dead) and claimed again: roll back."""


@dataclasses.dataclass
class Progress:
    done: int = 0
    total: int | None = None


# --- creating and finding jobs ---------------------------------------------------------------


@transaction.atomic
def create_job(
    upload: File | bytes,
    filename: str,
    *,
    acting_user,
    kind: str = "item",
    encoding: str | None = None,
    all_or_nothing: bool = False,
    mapping: dict[str, str] | None = None,
    dry_run: bool = True,
) -> ImportJob:
    """Store the file and queue a job; the worker does the rest. A file over
    ``IMPORT_MAX_BYTES`` is refused here already (ImportFileError)."""
    content = ContentFile(upload) if isinstance(upload, bytes) else upload
    if content.size > settings.IMPORT_MAX_BYTES:
        raise ImportFileError(
            _("The file is larger than %(max)d MB: split it into several files.")
            % {"max": settings.IMPORT_MAX_BYTES // 2**20}
        )
    job = ImportJob(
        created_by=acting_user,
        mode=Mode.DRY_RUN if dry_run else Mode.COMMIT,
        filename=(filename or "import")[:255],
        options={
            "kind": kind,
            "encoding": encoding or None,
            "all_or_nothing": bool(all_or_nothing),
            "mapping": mapping or {},
            "language": get_language() or settings.LANGUAGE_CODE,
        },
    )
    job.file_path = default_storage.save(f"repository/imports/{job.token}", content)
    job.save()
    record_event(
        "repository.import.queued", acting_user=acting_user, obj=job, note=job.filename[:200]
    )
    return job


@transaction.atomic
def commit_job(dry_run_job: ImportJob, *, acting_user) -> ImportJob:
    """Queue the commit of a finished dry run (the same file and options)."""
    if dry_run_job.mode != Mode.DRY_RUN or dry_run_job.state != State.DONE:
        raise ImportFileError("only a finished dry run can be committed")
    job = ImportJob.objects.create(
        created_by=acting_user,
        source=dry_run_job,
        fonds=dry_run_job.fonds,
        mode=Mode.COMMIT,
        filename=dry_run_job.filename,
        file_path=dry_run_job.file_path,
        options={**dry_run_job.options, "language": get_language() or settings.LANGUAGE_CODE},
        rows_total=dry_run_job.rows_total,
    )
    record_event(
        "repository.import.queued", acting_user=acting_user, obj=job, note=job.filename[:200]
    )
    return job


def can_see(user, job: ImportJob) -> bool:
    """Only the user who started a job, and administrators, see it."""
    if not user.is_authenticated:
        return False
    return job.created_by_id == user.pk or can_administer(user)


def job_for(user, token: str) -> ImportJob:
    """The job with this token if ``user`` may see it, else Http404."""
    job = ImportJob.objects.filter(token=str(token)[:32]).first()
    if job is None or not can_see(user, job):
        raise Http404
    return job


# --- what a job shows -------------------------------------------------------------------------


@dataclasses.dataclass
class JobReport:
    """The page's view of a finished job (the attributes of ``imports.ImportReport``)."""

    total: int = 0
    valid: int = 0
    written: int = 0
    rejected_rows: int = 0
    dry_run: bool = True
    errors: list[RowError] = dataclasses.field(default_factory=list)
    error_count: int = 0
    reappraisal: list = dataclasses.field(default_factory=list)  # [row, element, value]
    duplicates: list = dataclasses.field(default_factory=list)  # [row, duplicate of]
    nothing_written_note: str = ""


def job_report(job: ImportJob) -> JobReport | None:
    if job.state != State.DONE:
        return None
    result = job.result or {}
    return JobReport(
        total=result.get("total", 0),
        valid=result.get("valid", 0),
        written=result.get("written", 0),
        rejected_rows=result.get("rejected_rows", 0),
        dry_run=job.mode == Mode.DRY_RUN,
        errors=[RowError(*entry) for entry in result.get("errors", [])],
        error_count=result.get("error_count", 0),
        reappraisal=result.get("reappraisal", []),
        duplicates=result.get("duplicates", []),
        nothing_written_note=result.get("nothing_written_note", ""),
    )


def job_status(job: ImportJob) -> dict[str, Any]:
    """The small JSON the job page polls."""
    result = job.result or {}
    return {
        "id": job.token,
        "mode": job.mode,
        "state": job.state,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "error": job.error,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "result": {k: v for k, v in result.items() if k not in {"errors", "header"}},
    }


def rejected_report(job: ImportJob) -> ImportReport:
    """The rejected rows of a finished job, for ``imports.rejected_csv`` / ``rejected_xlsx``."""
    if job.state != State.DONE or not job.rejected_path:
        raise Http404
    report = ImportReport(header=list((job.result or {}).get("header", [])))
    with default_storage.open(job.rejected_path, "rb") as handle:
        for line in handle:
            number, cells, reason = json.loads(line)
            report.rejected.append((number, cells, reason))
    return report


# --- the worker's side ------------------------------------------------------------------------


def claim_next(*, worker: str) -> ImportJob | None:
    """Take the oldest queued job (``SKIP LOCKED`` where the database has it, so that two
    workers never take the same job; the conditional update guards the others)."""
    with transaction.atomic():
        queued = ImportJob.objects.filter(state=State.QUEUED).order_by("created_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            queued = queued.select_for_update(skip_locked=True)
        job = queued.first()
        if job is None:
            return None
        now = timezone.now()
        taken = ImportJob.objects.filter(pk=job.pk, state=State.QUEUED).update(
            state=State.RUNNING,
            attempts=F("attempts") + 1,
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            rows_done=0,
            worker=worker[:128],
        )
    if not taken:
        return None
    job.refresh_from_db()
    return job


def requeue_stale(now: dt.datetime | None = None) -> int:
    """Queue again the running jobs whose worker stopped beating (it died: its transaction was
    rolled back, so the job is re-run from the start); after ``MAX_ATTEMPTS`` it fails."""
    cutoff = (now or timezone.now()) - dt.timedelta(seconds=stale_after())
    stale = ImportJob.objects.filter(state=State.RUNNING, heartbeat_at__lt=cutoff)
    failed = stale.filter(attempts__gte=MAX_ATTEMPTS).update(
        state=State.FAILED,
        finished_at=timezone.now(),
        error=_("The import worker stopped during this import several times."),
    )
    queued = stale.filter(attempts__lt=MAX_ATTEMPTS).update(state=State.QUEUED, worker="")
    if queued or failed:
        log.warning("import jobs of dead workers: %d queued again, %d failed", queued, failed)
    return queued


def _count(data: bytes, job: ImportJob, progress: Progress, stop) -> Fonds | None:
    """Count the data rows (the progress bar's end) and find the file's fonds when it names one."""
    options = job.options
    header, rows = imports.read_table(data, job.filename, encoding=options.get("encoding"))
    columns = imports.map_columns(header, options.get("mapping"))
    fonds_at = next(index for index, key in columns.items() if key == "fonds")
    codes: set[str] = set()
    total = 0
    for cells in rows:
        total += 1
        if len(codes) < 2 and fonds_at < len(cells) and str(cells[fonds_at]).strip():
            codes.add(str(cells[fonds_at]).strip())
        if total % 5000 == 0 and stop is not None and stop.is_set():
            raise Interrupted
        if total > settings.IMPORT_MAX_ROWS:
            break
    progress.total = total
    return Fonds.objects.filter(code=codes.pop()).first() if len(codes) == 1 else None


def _save_rejected(job: ImportJob, report: ImportReport) -> str:
    if not report.rejected:
        return ""
    lines = "".join(
        json.dumps([number, [str(c) for c in cells], reason], ensure_ascii=False) + "\n"
        for number, cells, reason in report.rejected
    )
    name = f"repository/imports/{job.token}-rejected.jsonl"
    if default_storage.exists(name):  # a re-run after a dead worker
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(lines.encode("utf-8")))


def _execute(job: ImportJob, attempt: int, progress: Progress, stop, hook) -> None:
    """Run the import and mark the job done, in one transaction (see the module docstring)."""
    options = job.options

    def step(n: int) -> None:
        progress.done += n
        if hook is not None:
            hook(progress.done)
        if stop is not None and stop.is_set():
            raise Interrupted

    with override(options.get("language") or settings.LANGUAGE_CODE):
        with default_storage.open(job.file_path, "rb") as handle:
            data = handle.read()
        fonds = _count(data, job, progress, stop)
        with transaction.atomic():
            report = imports.import_catalogue(
                data,
                job.filename,
                acting_user=job.created_by,
                kind=options.get("kind", "item"),
                mapping=options.get("mapping") or None,
                encoding=options.get("encoding"),
                dry_run=job.mode == Mode.DRY_RUN,
                all_or_nothing=bool(options.get("all_or_nothing")),
                progress=step,
            )
            result = {
                "total": report.total,
                "valid": report.valid,
                "written": report.written,
                "rejected_rows": report.rejected_rows,
                "error_count": len(report.errors),
                "dry_run": report.dry_run,
                "header": report.header,
                "errors": [[e.row, e.column, e.reason] for e in report.errors[:ERRORS_KEPT]],
                "reappraisal": [list(entry) for entry in report.reappraisal[:ERRORS_KEPT]],
                "duplicates": [list(entry) for entry in report.duplicates[:ERRORS_KEPT]],
                "nothing_written_note": report.nothing_written_note,
            }
            done = ImportJob.objects.filter(pk=job.pk, state=State.RUNNING, attempts=attempt)
            marked = done.update(
                state=State.DONE,
                result=result,
                rejected_path=_save_rejected(job, report),
                rows_done=max(progress.done, report.total),
                rows_total=max(progress.total or 0, report.total),
                fonds=fonds,
                finished_at=timezone.now(),
                heartbeat_at=timezone.now(),
                error="",
            )
            if not marked:
                raise Superseded


def _save_progress(job: ImportJob, attempt: int, progress: Progress) -> None:
    """Best effort: on SQLite the import's transaction locks the database until it ends, so
    the progress is written when it can be (the job's end is written in any case)."""
    try:
        ImportJob.objects.filter(pk=job.pk, state=State.RUNNING, attempts=attempt).update(
            rows_done=progress.done, rows_total=progress.total, heartbeat_at=timezone.now()
        )
    except DatabaseError as exc:
        log.debug("progress of import job %s not written: %s", job.pk, exc)


def run_job(
    job: ImportJob,
    *,
    stop: threading.Event | None = None,
    heartbeat=None,
    threaded: bool = True,
    interval: float = 1.0,
    progress_hook=None,
) -> str:
    """Run a claimed job to its end; returns its final state (``queued`` when interrupted).

    ``threaded`` (the worker): the import runs in a thread with its own database connection and
    this thread writes progress and heartbeats every ``interval`` seconds. Unthreaded (tests,
    ``--once`` inside a transaction): the import runs here and the progress is written at the end.
    """
    attempt = job.attempts
    progress = Progress(total=job.rows_total)
    outcome: list[BaseException] = []

    def target() -> None:
        try:
            _execute(job, attempt, progress, stop, progress_hook)
        except BaseException as exc:
            outcome.append(exc)
        finally:
            if threaded:
                connection.close()

    if threaded:
        thread = threading.Thread(target=target, name=f"import-{job.pk}", daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(interval)
            if thread.is_alive():
                _save_progress(job, attempt, progress)
                if heartbeat is not None:
                    heartbeat.beat(job=job.pk, rows=progress.done)
    else:
        target()
    running = ImportJob.objects.filter(pk=job.pk, state=State.RUNNING, attempts=attempt)
    if not outcome:
        return State.DONE
    exc = outcome[0]
    if isinstance(exc, Interrupted):
        running.update(state=State.QUEUED, attempts=attempt - 1, worker="", rows_done=0)
        return State.QUEUED
    if isinstance(exc, Superseded):
        log.warning("import job %s was taken over by another worker", job.pk)
        return State.QUEUED
    if isinstance(exc, ImportFileError):
        message = str(exc)
    else:
        log.error("import job %s failed", job.pk, exc_info=exc)
        if not isinstance(exc, Exception):
            raise exc
        with override(job.options.get("language") or settings.LANGUAGE_CODE):
            message = _("The import stopped with an internal error.")
    running.update(state=State.FAILED, error=message, finished_at=timezone.now())
    return State.FAILED


def run_pending(*, worker: str = "inline", threaded: bool = False, **kwargs) -> int:
    """Run every queued job now (tests and ``run_imports --once``); returns how many ran."""
    ran = 0
    requeue_stale()
    while (job := claim_next(worker=worker)) is not None:
        if run_job(job, threaded=threaded, **kwargs) == State.QUEUED and kwargs.get("stop"):
            break
        ran += 1
    return ran
