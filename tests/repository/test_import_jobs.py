"""Catalogue imports as background jobs: queued by the request, run by ``run_imports``, with
progress, the all-or-nothing commit, restarts after a dead worker, and owner-only access."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts.choices import Role
from accounts.models import User
from accounts.permissions import role_group
from core.models import WorkerHeartbeat
from repository import import_jobs
from repository.models import Fonds, ImportJob, Item
from tests.gates import require_postgresql
from tests.repository.import_helpers import run_queued_job
from tests.repository.test_imports import BAD, GOOD, as_csv

pytestmark = pytest.mark.django_db

State = ImportJob.State
ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 120  # seconds: a generous bound for conditions awaited across threads


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def make_archivist(name: str) -> User:
    user = User.objects.create_user(username=name, password="x-pass-2026", display_name=name)
    user.groups.set([role_group(Role.ARCHIVIST)])
    return user


def rows(n: int, year: int = 2019) -> list[list[str]]:
    return [
        ["J012", "WS", "", f"通知 {i}", f"{year}-03-05", "永久", "未审核", "BGS", str(year)]
        for i in range(n)
    ]


def upload(client, data: bytes, **fields):
    file = SimpleUploadedFile("list.csv", data, "text/csv")
    return client.post(
        reverse("repository:staff-import"),
        {"file": file, "kind": "item", "encoding": "", **fields},
    )


def job_of(response) -> ImportJob:
    return ImportJob.objects.get(token=response.url.rstrip("/").rsplit("/", 1)[-1])


def test_the_request_returns_at_once_with_a_queued_job(ws, archivist_a, client_for):
    client = client_for(archivist_a)
    response = upload(client, as_csv(GOOD + BAD))
    assert response.status_code == 302
    job = job_of(response)
    assert (job.state, job.mode, job.created_by, job.attempts) == (
        State.QUEUED,
        ImportJob.Mode.DRY_RUN,
        archivist_a,
        0,
    )
    assert not Item.objects.exists()
    page = client.get(response.url)
    body = page.content.decode()
    assert "<progress" in body and "repository/import-job" in body and "<script>" not in body
    status = client.get(reverse("repository:staff-import-job-status", args=[job.token])).json()
    assert status["state"] == "queued" and status["rows_done"] == 0


def test_the_worker_runs_a_dry_run_that_writes_nothing(ws, archivist_a, client_for):
    client = client_for(archivist_a)
    response = upload(client, as_csv(GOOD + BAD))
    call_command("run_imports", "--once", stdout=io.StringIO())
    job = job_of(response)
    assert job.state == State.DONE and job.attempts == 1
    assert (job.rows_done, job.rows_total) == (7, 7)
    assert job.result["valid"] == 2 and job.result["rejected_rows"] == 5
    assert job.fonds == Fonds.objects.get(code="J012")
    assert not Item.objects.exists()
    page = client.get(response.url)
    assert "没有 13 月" in page.content.decode() and page.context["report"].valid == 2
    rejected = client.get(reverse("repository:staff-import-rejected", args=[job.token]))
    assert "没有 13 月" in rejected.content.decode("utf-8-sig")


def test_commit_is_all_or_nothing_in_strict_mode(ws, archivist_a, client_for):
    client = client_for(archivist_a)
    page = run_queued_job(client, upload(client, as_csv(GOOD + BAD), all_or_nothing="on"))
    token = page.context["token"]
    url = reverse("repository:staff-import")
    page = run_queued_job(client, client.post(url, {"token": token, "commit": "1"}))
    report = page.context["report"]
    assert not report.dry_run and report.written == 0 and report.rejected_rows == 5
    assert not Item.objects.exists()
    commit = page.context["job"]
    assert commit.mode == ImportJob.Mode.COMMIT and commit.source.token == token


def test_commit_without_strict_mode_writes_the_valid_rows(ws, archivist_a, client_for):
    client = client_for(archivist_a)
    page = run_queued_job(client, upload(client, as_csv(GOOD + BAD)))
    url = reverse("repository:staff-import")
    page = run_queued_job(client, client.post(url, {"token": page.context["token"], "commit": "1"}))
    assert page.context["report"].written == 2 and Item.objects.count() == 2


def test_a_file_error_fails_the_job_with_its_message(ws, archivist_a, client_for):
    client = client_for(archivist_a)
    page = run_queued_job(client, upload(client, "题名\n文件".encode()))
    assert page.context["job"].state == State.FAILED
    assert "缺少" in page.content.decode() or "Missing" in page.content.decode()


def test_other_users_get_404(ws, archivist_a, admin_user, client_for):
    client = client_for(archivist_a)
    response = upload(client, as_csv(GOOD + BAD))
    run_queued_job(client, response)
    job = job_of(response)
    urls = [
        response.url,
        reverse("repository:staff-import-job-status", args=[job.token]),
        reverse("repository:staff-import-rejected", args=[job.token]),
        reverse("api-import-job", args=[job.token]),
    ]
    other = client_for(make_archivist("archivist_other"))
    for url in urls:
        assert other.get(url).status_code == 404, url
    commit = other.post(reverse("repository:staff-import"), {"token": job.token, "commit": "1"})
    assert commit.status_code == 404
    assert other.post(reverse("api-import-commit", args=[job.token])).status_code == 404
    admin = client_for(admin_user)
    for url in urls:
        assert admin.get(url).status_code == 200, url
    assert client_for(None).get(urls[0]).status_code == 302  # sign in first


def test_api_returns_202_with_the_job_url(ws, archivist_a, client_for):
    client = client_for(archivist_a)
    file = SimpleUploadedFile("list.csv", as_csv(GOOD), "text/csv")
    response = client.post(reverse("api-imports"), {"file": file, "kind": "item"})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["state"] == "queued" and response["Location"] == body["url"]
    import_jobs.run_pending()
    assert client.get(body["url"]).json()["result"]["valid"] == 2
    commit = client.post(reverse("api-import-commit", args=[body["id"]]))
    assert commit.status_code == 202 and commit.json()["mode"] == "commit"
    import_jobs.run_pending()
    assert client.get(commit.json()["url"]).json()["result"]["written"] == 2
    assert Item.objects.count() == 2


def test_a_job_whose_worker_died_is_run_again_and_completes_once(ws, archivist_a):
    job = import_jobs.create_job(
        as_csv(rows(3)), "list.csv", acting_user=archivist_a, dry_run=False
    )
    dead = import_jobs.claim_next(worker="dead-host:1")  # claimed, then its worker died
    assert dead.pk == job.pk and dead.attempts == 1
    assert import_jobs.run_pending() == 0  # its heartbeat is still fresh: left alone
    past = timezone.now() - dt.timedelta(seconds=import_jobs.stale_after() + 5)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=past)
    assert import_jobs.run_pending() == 1
    job.refresh_from_db()
    assert (job.state, job.attempts, job.result["written"]) == (State.DONE, 2, 3)
    assert Item.objects.count() == 3
    assert import_jobs.run_pending() == 0  # done once
    # the worker taken for dead finishes late: its attempt is superseded, it writes nothing
    assert import_jobs.run_job(dead, threaded=False) == State.QUEUED
    assert Item.objects.count() == 3
    job.refresh_from_db()
    assert (job.state, job.attempts) == (State.DONE, 2)


def test_a_job_whose_worker_keeps_dying_fails(ws, archivist_a):
    job = import_jobs.create_job(as_csv(rows(1)), "list.csv", acting_user=archivist_a)
    past = timezone.now() - dt.timedelta(seconds=import_jobs.stale_after() + 5)
    for _attempt in range(import_jobs.MAX_ATTEMPTS):
        assert import_jobs.claim_next(worker="dead-host:1").pk == job.pk
        ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=past)
        import_jobs.requeue_stale()
    job.refresh_from_db()
    assert job.state == State.FAILED and job.attempts == import_jobs.MAX_ATTEMPTS


def test_sigterm_rolls_the_running_import_back_and_queues_it_again(ws, archivist_a):
    job = import_jobs.create_job(
        as_csv(rows(50)), "list.csv", acting_user=archivist_a, dry_run=False
    )
    claimed = import_jobs.claim_next(worker="w")
    stop = threading.Event()

    def hook(done):
        if done == 20:
            stop.set()  # what the SIGTERM handler does

    state = import_jobs.run_job(claimed, stop=stop, threaded=False, progress_hook=hook)
    job.refresh_from_db()
    assert state == State.QUEUED and job.state == State.QUEUED and job.attempts == 0
    assert not Item.objects.exists()


# --- across threads and connections (the worker's real shape) --------------------------------


def in_thread(target, *args, **kwargs) -> threading.Thread:
    def run():
        try:
            target(*args, **kwargs)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_progress_moves_while_the_commit_runs(ws, archivist_a):
    """The worker writes progress through its own connection while the import's transaction
    is open: the job page's JSON shows it moving before anything is committed."""
    require_postgresql()
    client = Client()
    client.force_login(archivist_a)
    with translation.override("zh-hans"):
        response = upload(client, as_csv(rows(300)))
    dry_run = job_of(response)
    import_jobs.run_pending()
    dry_run.refresh_from_db()
    job = import_jobs.commit_job(dry_run, acting_user=archivist_a)
    status_url = reverse("repository:staff-import-job-status", args=[job.token])
    seen = threading.Event()
    paused = threading.Event()

    def hook(done):
        if done == 150:
            paused.set()
            seen.wait(DEADLINE)

    worker = in_thread(
        import_jobs.run_pending, worker="t", threaded=True, interval=0.05, progress_hook=hook
    )
    assert paused.wait(DEADLINE)
    observed = []
    deadline = timezone.now() + dt.timedelta(seconds=DEADLINE)
    while timezone.now() < deadline:
        close_old_connections()
        status = client.get(status_url).json()
        observed.append((status["state"], status["rows_done"], status["rows_total"]))
        if status["rows_done"] == 150:
            break
        threading.Event().wait(0.05)
    assert observed[-1] == ("running", 150, 300), observed[-5:]
    assert not Item.objects.exists()  # the commit's transaction is still open
    seen.set()
    worker.join(DEADLINE)
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total) == (State.DONE, 300, 300)
    assert Item.objects.count() == 300


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_run_the_same_job(ws, archivist_a):
    require_postgresql()
    jobs = [
        import_jobs.create_job(
            as_csv(rows(2, year=2000 + n)), "list.csv", acting_user=archivist_a, dry_run=False
        )
        for n in range(12)
    ]
    start = threading.Barrier(2)
    runs: dict[str, list[int]] = {"a": [], "b": []}

    def work(name):
        start.wait(DEADLINE)
        while (job := import_jobs.claim_next(worker=name)) is not None:
            runs[name].append(job.pk)
            import_jobs.run_job(job, threaded=False)

    threads = [in_thread(work, name) for name in runs]
    for thread in threads:
        thread.join(DEADLINE)
    assert not set(runs["a"]) & set(runs["b"])
    assert sorted(runs["a"] + runs["b"]) == sorted(job.pk for job in jobs)
    assert set(ImportJob.objects.values_list("state", "attempts")) == {(State.DONE, 1)}
    assert Item.objects.count() == 24


# --- the worker process -------------------------------------------------------------------------


def worker_env(tmp_path, database_url: str) -> dict:
    env = dict(os.environ, DATABASE_URL=database_url, MEDIA_ROOT=str(tmp_path), DEBUG="true")
    env.pop("CI", None)
    return env


def worker_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_the_worker_process_runs_jobs_and_stops_cleanly_on_sigterm(ws, archivist_a, tmp_path):
    require_postgresql()
    job = import_jobs.create_job(as_csv(GOOD + BAD), "list.csv", acting_user=archivist_a)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_imports", "--idle", "0.2"],
        cwd=ROOT,
        env=worker_env(tmp_path, worker_database_url()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and worker.poll() is None:
            job.refresh_from_db()
            if job.state == State.DONE:
                break
            time.sleep(0.2)
        assert job.state == State.DONE and job.result["valid"] == 2
        beat = WorkerHeartbeat.objects.get(name="run_imports")
        assert beat.stopped_at is None
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=DEADLINE)
    assert worker.returncode == 0, out
    assert "run_imports stopped" in out
    beat.refresh_from_db()
    assert beat.stopped_at is not None


def test_the_worker_process_exits_non_zero_when_it_crashes(tmp_path, db):
    require_postgresql()
    db_url = worker_database_url().rsplit("/", 1)[0] + "/lantai_no_such_database"
    result = subprocess.run(
        [sys.executable, "manage.py", "run_imports", "--once"],
        cwd=ROOT,
        env={**worker_env(tmp_path, db_url), "DATABASE_POOL_SIZE": "0"},  # no pool timeout
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert result.returncode != 0
    assert "lantai_no_such_database" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_the_threaded_worker_completes_a_commit_on_every_database(ws, archivist_a):
    """On SQLite the import's transaction locks the database, so progress cannot be written
    while it runs: the worker goes on (and writes the end) instead of failing."""
    job = import_jobs.create_job(
        as_csv(rows(400)), "list.csv", acting_user=archivist_a, dry_run=False
    )
    assert import_jobs.run_pending(worker="t", threaded=True, interval=0.01) == 1
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total, job.attempts) == (State.DONE, 400, 400, 1)
    assert Item.objects.count() == 400
