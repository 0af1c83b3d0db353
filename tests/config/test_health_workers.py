"""``/healthz`` names a worker that stopped beating (its every instance stale), without taking
the web node out of service; a fresh instance of the same worker replaces a dead one."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.heartbeat import Heartbeat, forget_replaced, job_ran, worker_states
from core.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def beat(name, instance, age_s, stale_after=60):
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        name=name,
        instance=instance,
        started_at=now - dt.timedelta(hours=1),
        beat_at=now - dt.timedelta(seconds=age_s),
        stale_after=stale_after,
    )


def workers(client):
    body = client.get("/healthz").json()
    return body["checks"]["workers"]


def test_a_stale_worker_is_named_and_a_fresh_one_is_ok(client):
    beat("evaluate_alarms.fast", "host:1", age_s=5)
    beat("search_sync", "host:2", age_s=600)
    check = workers(client)
    assert check["ok"] is False and check["stale"] == ["search_sync"]
    assert check["workers"] == {"evaluate_alarms.fast": "ok", "search_sync": "stale"}
    assert check["required"] is False  # the web node stays in service
    assert "host" not in str(check)  # no host names or pids to the public


def test_a_restarted_worker_replaces_its_dead_instance(client):
    beat("mqtt_ingest", "host:old", age_s=3600)
    beat("mqtt_ingest", "host:new", age_s=2)
    assert workers(client)["stale"] == []
    assert {s["status"] for s in worker_states()} == {"ok", "replaced"}
    assert forget_replaced() == 1


def test_heartbeats_and_jobs_record_themselves(client):
    Heartbeat("send_notifications", every=0).beat(sent=3)
    job_ran("expire_grants", period_seconds=300, expired=0)
    assert workers(client)["workers"] == {"expire_grants": "ok", "send_notifications": "ok"}
    stopping = Heartbeat("search_sync", every=0)
    stopping.beat()
    stopping.stopped()
    assert workers(client)["workers"]["search_sync"] == "stopped"
