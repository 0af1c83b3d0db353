"""Prometheus metrics at ``/metrics``, for the addresses in ``METRICS_ALLOWED_IPS`` only.

Two kinds of metrics:

- **Requests** (``lantai_http_requests_total`` by method, route and status, and the latency
  histogram ``lantai_http_request_duration_seconds`` by method and route), counted by
  ``MetricsMiddleware`` in the process that served the request. The route is the URL pattern
  (``records/<int:pk>/``), never the path, so the label set stays bounded. Several Uvicorn
  workers (``--workers N``) are one target: with ``PROMETHEUS_MULTIPROC_DIR`` set (deploy/systemd
  sets it, an empty directory at each start) every process writes its counts there and a scrape
  of any worker sums them all (prometheus_client's multiprocess mode). Without it (``make run``,
  one process) the counts live in the process.
- **State** read from the database at each scrape, so every worker process answers the same:
  ingest counters per ingest worker (``rate(lantai_ingest_readings_stored_total[5m])`` is the
  ingest rate) and its writer buffer, dead letters by reason, the search outbox backlog and its
  age, open alarms by severity, worker heartbeat ages and the age of the last backup and restore
  drill. A database that does not answer gives ``lantai_metrics_database_up 0``, not an error.

This module reads the models of several apps, so it sits on the top layer with the URLs.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Max, Min
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.backup import lantai_version
from core.client_ip import client_ip, is_trusted, parse_address, trusted_networks
from core.models import OutgoingMail, WorkerHeartbeat
from devices.models import DeadLetter, IngestState
from search.models import OutboxEntry
from storage_env.choices import OPEN_STATES, Severity
from storage_env.models import Alarm

log = logging.getLogger("lantai.metrics")

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
# The requests' own registry in one process; in multiprocess mode the values go to files and
# the registry is only where the metric objects are declared.
REQUESTS = CollectorRegistry(auto_describe=True)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
HTTP_REQUESTS = Counter(
    "lantai_http_requests",
    "HTTP requests answered, by method, route (URL pattern) and status",
    ["method", "route", "status"],
    registry=REQUESTS,
)
HTTP_LATENCY = Histogram(
    "lantai_http_request_duration_seconds",
    "Time to the response (for a streamed response: to its first byte), by method and route",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REQUESTS,
)
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNMATCHED = "<unmatched>"  # a 404 for a path no pattern matched: one label for them all


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return (match.route or match.view_name or UNMATCHED)[:120]


class MetricsMiddleware:
    """Counts every answered request with its route, status and time to the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        route = route_of(request)
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
        return response


# --- state from the database -----------------------------------------------------------------
def _age(now, moment) -> float:
    return (now - moment).total_seconds() if moment else math.inf


def ingest_metrics() -> Iterator[Metric]:
    counters = {
        "received": "MQTT messages received",
        "stored": "readings stored",
        "duplicates": "readings dropped as duplicates",
        "dead_lettered": "messages dead-lettered (rejected)",
        "refused": "readings dropped while the database was down",
    }
    families = {
        field: CounterMetricFamily(
            f"lantai_ingest_{'readings_' if field == 'stored' else ''}{field}",
            f"Ingest worker: {text} since it started",
            labels=["client_id"],
        )
        for field, text in counters.items()
    }
    buffered = GaugeMetricFamily(
        "lantai_ingest_buffered", "Readings in the ingest writer's buffer", labels=["client_id"]
    )
    connected = GaugeMetricFamily(
        "lantai_ingest_connected", "1 while the ingest worker is connected to the broker",
        labels=["client_id"],
    )  # fmt: skip
    heartbeat = GaugeMetricFamily(
        "lantai_ingest_heartbeat_age_seconds",
        "Seconds since the ingest worker last reported",
        labels=["client_id"],
    )
    now = timezone.now()
    for state in IngestState.objects.all():
        for field, family in families.items():
            family.add_metric([state.client_id], getattr(state, field))
        buffered.add_metric([state.client_id], state.buffered)
        connected.add_metric([state.client_id], int(state.connected))
        heartbeat.add_metric([state.client_id], _age(now, state.heartbeat_at))
    yield from families.values()
    yield from (buffered, connected, heartbeat)


def dead_letter_metrics() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "lantai_dead_letters", "Rejected MQTT messages kept, by reason", labels=["reason"]
    )
    for row in DeadLetter.objects.values("reason").annotate(n=Count("id")).order_by("reason"):
        family.add_metric([row["reason"]], row["n"])
    yield family


def outbox_metrics() -> Iterator[Metric]:
    stats = OutboxEntry.objects.aggregate(
        n=Count("id"), oldest=Min("created_at"), attempts=Max("attempts")
    )
    oldest = stats["oldest"]
    yield GaugeMetricFamily(
        "lantai_search_outbox_backlog", "Changes waiting to reach search", value=stats["n"]
    )
    yield GaugeMetricFamily(
        "lantai_search_outbox_oldest_age_seconds",
        "Age of the oldest change waiting to reach search (0: none waiting)",
        value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
    )
    yield GaugeMetricFamily(
        "lantai_search_outbox_max_attempts",
        "Most attempts any waiting change has had",
        value=stats["attempts"] or 0,
    )


def alarm_metrics() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "lantai_alarms_open", "Open alarms (raised or acknowledged), by severity",
        labels=["severity"],
    )  # fmt: skip
    counts = dict.fromkeys(Severity.values, 0)
    for row in (
        Alarm.objects.filter(state__in=OPEN_STATES).values("severity").annotate(n=Count("id"))
    ):
        counts[row["severity"]] = row["n"]
    for severity, n in counts.items():
        family.add_metric([severity], n)
    yield family


def mail_metrics() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "lantai_mail_queue", "Queued e-mail (core/mail.py) by state; failed: given up",
        labels=["state"],
    )  # fmt: skip
    counts = dict.fromkeys(OutgoingMail.State.values, 0)
    for row in OutgoingMail.objects.values("state").annotate(n=Count("id")):
        counts[row["state"]] = row["n"]
    for state, n in counts.items():
        family.add_metric([state], n)
    yield family


BACKUP_JOBS = ("backup", "backup_verify")


def heartbeat_metrics() -> Iterator[Metric]:
    """The freshest running instance of each worker and periodic job; the backup jobs also as
    the time of their last success (never: 0, and an infinite age)."""
    age = GaugeMetricFamily(
        "lantai_worker_heartbeat_age_seconds",
        "Seconds since the freshest running instance of a worker or job beat",
        labels=["worker"],
    )
    stale = GaugeMetricFamily(
        "lantai_worker_stale_after_seconds",
        "Age beyond which the worker counts as stale (/healthz)",
        labels=["worker"],
    )
    backup_time = GaugeMetricFamily(
        "lantai_backup_last_success_timestamp_seconds",
        "When the last backup (job=backup) or restore drill (job=backup_verify) succeeded",
        labels=["job"],
    )
    backup_age = GaugeMetricFamily(
        "lantai_backup_age_seconds",
        "Seconds since the last successful backup or restore drill (+Inf: never)",
        labels=["job"],
    )
    now = timezone.now()
    freshest: dict[str, WorkerHeartbeat] = {}
    for row in WorkerHeartbeat.objects.filter(stopped_at__isnull=True).order_by("beat_at"):
        freshest[row.name] = row  # ordered by time: the last one wins
    for name, row in sorted(freshest.items()):
        age.add_metric([name], _age(now, row.beat_at))
        stale.add_metric([name], row.stale_after)
    last = dict(
        WorkerHeartbeat.objects.filter(name__in=BACKUP_JOBS)
        .values_list("name")
        .annotate(last=Max("beat_at"))
    )
    for job in BACKUP_JOBS:
        moment = last.get(job)
        backup_time.add_metric([job], moment.timestamp() if moment else 0.0)
        backup_age.add_metric([job], _age(now, moment))
    yield from (age, stale, backup_time, backup_age)


STATE_METRICS = [
    ingest_metrics,
    dead_letter_metrics,
    outbox_metrics,
    alarm_metrics,
    mail_metrics,
    heartbeat_metrics,
]


class StateCollector(Collector):
    """Reads the state metrics at each scrape; the database's absence is itself a metric."""

    def collect(self) -> Iterator[Metric]:
        yield _build_info()
        up = 1
        for source in STATE_METRICS:
            try:
                yield from list(source())
            except DatabaseError as exc:
                log.warning("metrics: %s failed: %s", source.__name__, exc)
                up = 0
        yield GaugeMetricFamily(
            "lantai_metrics_database_up", "1 when the state metrics could be read", value=up
        )


def _build_info() -> GaugeMetricFamily:
    family = GaugeMetricFamily("lantai_build_info", "Lantai version", labels=["version"])
    family.add_metric([lantai_version()], 1)
    return family


def scrape() -> bytes:
    """The whole exposition: the requests (this process, or every process's files) and the
    state."""
    if MULTIPROCESS:
        requests = CollectorRegistry()
        multiprocess.MultiProcessCollector(requests)
    else:
        requests = REQUESTS
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector())
    return generate_latest(requests) + generate_latest(state)


# --- the endpoint ----------------------------------------------------------------------------
def allowed(request: HttpRequest) -> bool:
    """The client (core/client_ip.py: X-Forwarded-For believed from TRUSTED_PROXIES only) is in
    METRICS_ALLOWED_IPS."""
    address = parse_address(client_ip(request) or "")
    return address is not None and is_trusted(
        address, trusted_networks(tuple(settings.METRICS_ALLOWED_IPS))
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition for the monitoring addresses; a 404 for anyone else (the endpoint
    is not there for them)."""
    if not allowed(request):
        return HttpResponseNotFound()
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
