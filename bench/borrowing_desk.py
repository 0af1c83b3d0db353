"""Borrowing figures on PostgreSQL: front-desk queue page p95, check-in API p95, and
check-outs per second under 8 concurrent clients beside the same flow done one query per row.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lantai_borrow_bench \\
        .venv/bin/python bench/borrowing_desk.py

BENCH_RECORDS (default 1,000,000) catalogue records (seeded by the repository's demo when
fewer exist), BENCH_REQUESTS (default 100,000) access requests, BENCH_CHECKIN (default 500)
check-in scans, BENCH_CHECKOUTS (default 400) check-outs per flow, 8 clients.

The queue page and the check-in API are measured with 1 and with 4 concurrent clients (one
phone, four phones); check-outs use 3 records each. Runs are repeatable on the same database:
catalogue and requests are seeded once, every run takes fresh records for its loans.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

import httpx
from _harness import ROOT, asgi_server, production_env, report
from ingest_throughput import django_setup, ensure_database

RECORDS = int(os.environ.get("BENCH_RECORDS", "1000000"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "100000"))
CHECKINS = int(os.environ.get("BENCH_CHECKIN", "500"))
CHECKOUTS = int(os.environ.get("BENCH_CHECKOUTS", "400"))
CLIENTS = 8
LINES_PER_CHECKOUT = 3


def seed_catalogue() -> None:
    from io import StringIO

    from accounts import demo as accounts_demo
    from repository import demo as repository_demo
    from repository.models import Item, Volume

    have = Item.objects.count() + Volume.objects.count()
    accounts_demo.seed(records=0, out=StringIO())
    if have < RECORDS:
        started = time.perf_counter()
        repository_demo.seed(records=RECORDS, out=StringIO())
        print(f"# seeded {RECORDS} records in {time.perf_counter() - started:.0f}s", flush=True)


def users():
    from accounts.choices import Role
    from accounts.models import User
    from accounts.permissions import role_group

    made = {}
    for name, role in (("bench_desk", Role.FRONT_DESK), ("bench_keeper", Role.KEEPER)):
        user, _ = User.objects.get_or_create(username=name)
        user.groups.set([role_group(role)])
        made[name] = user
    reader, _ = User.objects.get_or_create(username="bench_reader")
    made["bench_reader"] = reader
    return made


def seed_requests(reader) -> None:
    """BENCH_REQUESTS requests over the catalogue, in every state (bulk, no services)."""
    from django.utils import timezone

    from borrowing.choices import LineDecision, RequestState, UserType
    from borrowing.models import AccessRequest, RequestLine
    from repository.models import Item

    have = AccessRequest.objects.filter(note="bench").count()
    missing = REQUESTS - have
    if missing <= 0:
        return
    states = [
        s for s in RequestState.values if s not in (RequestState.CHECKED_OUT, RequestState.OVERDUE)
    ]
    item_ids = list(Item.objects.order_by("pk").values_list("pk", flat=True)[:missing])
    today = timezone.localdate()
    now = timezone.now()
    batch = 5000
    for start in range(0, missing, batch):
        size = min(batch, missing - start)
        reqs = AccessRequest.objects.bulk_create(
            AccessRequest(
                requester=reader,
                user_type=UserType.RESEARCHER,
                purpose="research",
                state=states[(start + i) % len(states)],
                date_from=today,
                date_to=today,
                note="bench",
                submitted_at=now - dt.timedelta(minutes=start + i),
            )
            for i in range(size)
        )
        RequestLine.objects.bulk_create(
            RequestLine(
                request=req,
                item_id=item_ids[(start + i) % len(item_ids)],
                decision=LineDecision.PENDING,
            )
            for i, req in enumerate(reqs)
        )
    from django.db import connection

    with connection.cursor() as cursor:  # fresh planner statistics after the bulk load
        cursor.execute("ANALYZE borrowing_accessrequest, borrowing_requestline, borrowing_loan")
    print(f"# seeded {missing} access requests", flush=True)


def fresh_records(count: int, tag: str):
    """``count`` records not on loan and not used by earlier bench runs."""
    from borrowing.models import Loan
    from repository.models import Item

    used = Loan.objects.values("item_id")
    return list(Item.objects.public().exclude(pk__in=used).order_by("-pk")[:count])


def retrieved_requests(reader, count: int, lines: int):
    from django.utils import timezone

    from borrowing.choices import LineDecision, RequestState, UserType
    from borrowing.models import AccessRequest, RequestLine

    records = fresh_records(count * lines, "co")
    today = timezone.localdate()
    reqs = AccessRequest.objects.bulk_create(
        AccessRequest(
            requester=reader,
            user_type=UserType.RESEARCHER,
            purpose="research",
            state=RequestState.RETRIEVED,
            date_from=today,
            date_to=today,
            note="bench-co",
        )
        for _ in range(count)
    )
    RequestLine.objects.bulk_create(
        RequestLine(request=req, item=records[i * lines + j], decision=LineDecision.APPROVED)
        for i, req in enumerate(reqs)
        for j in range(lines)
    )
    return reqs


def naive_check_out(req, *, acting_user, due_date):
    """The same flow, one query per row: lines fetched one by one, the record and its loans
    looked up separately for each, every loan and audit row saved on its own."""
    from django.db import transaction

    from accounts.audit import record_event
    from borrowing.choices import RequestState
    from borrowing.models import AccessRequest, Loan, RequestLine

    with transaction.atomic():
        req = AccessRequest.objects.select_for_update().get(pk=req.pk)
        req.transition(RequestState.CHECKED_OUT)
        for line_id in RequestLine.objects.filter(request=req).values_list("pk", flat=True):
            line = RequestLine.objects.get(pk=line_id)
            record = line.item  # a query
            for loan in Loan.objects.filter(item=record):  # every loan, one by one
                if loan.returned_at is None:
                    raise RuntimeError("on loan")
            loan = Loan(
                line=line,
                request=req,
                borrower=req.requester,
                checked_out_by=acting_user,
                due_date=due_date,
                item=record,
            )
            loan.save()
            record_event("borrowing.loan.checked_out", acting_user=acting_user, obj=loan)
        req.save()


def run_clients(func, reqs, **kwargs) -> float:
    from django.db import connection

    chunks = [reqs[i::CLIENTS] for i in range(CLIENTS)]
    errors: list[Exception] = []

    def worker(chunk):
        try:
            for req in chunk:
                func(req, **kwargs)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return len(reqs) / elapsed


async def _timed(requests, concurrency: int):
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)
    async with httpx.AsyncClient(timeout=20) as client:

        async def worker():
            while True:
                try:
                    method, url, headers, body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                response = await client.request(method, url, headers=headers, json=body)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses


def p95(values):
    return statistics.quantiles(values, n=100)[94]


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("borrowing bench needs DATABASE_URL=postgres://...", file=sys.stderr)
        return 1
    ensure_database()
    # The server runs with the bench secret key: sign the session with the same one.
    os.environ["SECRET_KEY"] = production_env()["SECRET_KEY"]
    django_setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from borrowing import services

    seed_catalogue()
    people = users()
    seed_requests(people["bench_reader"])
    desk, keeper = people["bench_desk"], people["bench_keeper"]

    # check-outs per second: the service vs one query per row, 8 clients each
    due = timezone.localdate() + dt.timedelta(days=7)
    reqs = retrieved_requests(people["bench_reader"], CHECKOUTS, LINES_PER_CHECKOUT)
    rate = run_clients(services.check_out_access_request, reqs, acting_user=desk, due_date=due)
    reqs = retrieved_requests(people["bench_reader"], CHECKOUTS, LINES_PER_CHECKOUT)
    naive = run_clients(naive_check_out, reqs, acting_user=desk, due_date=due)
    report("borrowing_checkouts_per_s_8_clients", rate, "checkouts/s")
    report("borrowing_checkouts_per_s_8_clients_one_query_per_row", naive, "checkouts/s")

    # loans to return through the check-in API
    to_return = retrieved_requests(people["bench_reader"], CHECKINS, 1)
    for req in to_return:
        services.check_out_access_request(req, acting_user=desk, due_date=due)
    codes = [services.record_code(line.record) for req in to_return for line in req.lines.all()]

    client = Client()
    client.force_login(desk)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    token = Token.objects.get_or_create(user=keeper)[0].key
    # Production static files need a manifest: collect into a private directory.
    static_root = os.environ.get("BENCH_STATIC_ROOT", "/tmp/lantai_borrowing_bench_static")
    env = production_env(DATABASE_URL=url, STATIC_ROOT=static_root)
    # chart.umd.min.js names a source map that is not vendored; give post-processing a stub
    # (a production collectstatic fails on it otherwise — reported, not ours to change).
    stub = os.path.join(static_root, "vendor", "chartjs", "chart.umd.min.js.map")
    os.makedirs(os.path.dirname(stub), exist_ok=True)
    with open(stub, "w") as handle:
        handle.write("{}")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    with asgi_server("uvicorn", env) as base:
        page = (base + "/staff/borrowing/?state=submitted", {"Cookie": cookie})
        print("# queue page", flush=True)
        get = ("GET", page[0], page[1], None)
        asyncio.run(_timed([get] * 30, 4))  # warm-up
        for clients in (1, 4):
            latencies, statuses = asyncio.run(_timed([get] * 300, clients))
            assert statuses == {200: 300}, statuses
            report(f"borrowing_desk_queue_p95_{clients}_client", p95(latencies), "ms")
        headers = {"Authorization": f"Token {token}"}
        scans = [
            (
                "POST",
                base + "/api/v1/borrowing/checkin/scans/",
                headers,
                {"scan_id": str(uuid.uuid4()), "kind": "return", "code": code},
            )
            for code in codes
        ]
        print("# check-in scans", flush=True)
        half = len(scans) // 2
        for clients, batch in ((1, scans[:half]), (4, scans[half:])):
            latencies, statuses = asyncio.run(_timed(batch, clients))
            assert statuses == {200: len(batch)}, statuses
            report(f"borrowing_checkin_api_p95_{clients}_client", p95(latencies), "ms")
        latencies, statuses = asyncio.run(_timed(scans[: min(200, len(scans))], 4))
        assert statuses == {200: min(200, len(scans))}, statuses
        report("borrowing_checkin_replay_p95_4_client", p95(latencies), "ms")
    from borrowing.models import AccessRequest

    print(f"# {AccessRequest.objects.count()} access requests in the database", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
