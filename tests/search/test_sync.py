"""Outbox drain, retries with backoff, engine outage, reconcile, zero-downtime reindex,
/healthz backlog — on every backend."""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from search.backends import SearchUnavailable, use_backend
from search.backends.elasticsearch import ElasticsearchBackend
from search.models import OutboxEntry
from search.outbox import enqueue
from search.query import SearchRequest, Visibility
from search.services import search_records
from search.sync import backlog, backoff_seconds, drain_once, reconcile, reindex
from tests.search.conftest import sync

EVERYTHING = Visibility(public_only=False, fonds_ids=None, clearance=3)


def titles(backend, query):
    result = backend.search(SearchRequest(query=query), EVERYTHING)
    return [h.doc["title"] for h in result.hits]


def edit(item, **changes):
    """What a catalogue service does: change, bump the version, outbox row, one transaction."""
    with transaction.atomic():
        for name, value in changes.items():
            setattr(item, name, value)
        item.version += 1
        item.save()
        enqueue(item)


@pytest.fixture
def down():
    """An Elasticsearch backend whose node is not there (nothing listens on port 9)."""
    return ElasticsearchBackend("http://127.0.0.1:9", index_prefix="lantai_down", timeout=0.5)


def test_drain_collapses_duplicates_and_empties_the_outbox(backend, catalogue):
    item = catalogue["loan"]
    edit(item, title="借阅制度 第二版")
    edit(item, title="借阅制度 第三版")
    assert OutboxEntry.objects.filter(object_id=item.pk).count() == 3
    sync(backend)
    assert not OutboxEntry.objects.exists()
    assert backend.versions([f"item-{item.pk}"]) == {f"item-{item.pk}": item.version}
    assert titles(backend, "第三") == ["借阅制度 第三版"]


def test_stale_outbox_row_does_not_overwrite_newer_document(backend, indexed):
    item = indexed["loan"]
    edit(item, title="借阅制度 新版")
    sync(backend)
    # a late duplicate of the first change arrives after the newer one was indexed
    OutboxEntry.objects.create(model_label="repository.item", object_id=item.pk, version=1)
    result = drain_once(backend=backend)
    assert result.taken == 1 and not result.error
    backend.refresh()
    assert titles(backend, "新版") == ["借阅制度 新版"]


def test_deleted_record_leaves_the_index(backend, indexed):
    item = indexed["unrelated"]
    with transaction.atomic():
        enqueue(item, deleted=True)
        item.delete()
    sync(backend)
    assert titles(backend, "馆舍") == []


def test_engine_down_edits_succeed_then_drain_when_it_returns(backend, indexed, down):
    item = indexed["controlled"]
    with use_backend(down):
        edit(item, access_status="open")  # the edit itself never touches the engine
        item.refresh_from_db()
        assert item.access_status == "open"
        result = drain_once(backend=down)
        assert result.error and result.failed == 1
        with pytest.raises(SearchUnavailable):
            search_records(None, SearchRequest(query="移交"))
    entry = OutboxEntry.objects.get()
    assert entry.attempts == 1 and entry.last_error
    assert entry.next_attempt_at > timezone.now()
    assert drain_once(backend=backend).taken == 0  # backing off: not due yet
    with time_machine.travel(timezone.now() + timedelta(seconds=backoff_seconds(1) + 1)):
        assert drain_once(backend=backend).indexed == 1
    backend.refresh()
    assert not OutboxEntry.objects.exists()
    public = backend.search(SearchRequest(query="移交"), Visibility())
    assert [h.doc["reference_code"] for h in public.hits] == [item.reference_code]
    assert reconcile(backend=backend, repair=False).clean


def test_backoff_grows_and_is_capped():
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff_seconds(50) == 300


def test_reconcile_finds_and_repairs_both_ways(backend, indexed):
    item, gone = indexed["loan"], indexed["unrelated"]
    # Changes that bypassed the outbox: a newer version in the database, a record deleted.
    type(item).objects.filter(pk=item.pk).update(title="借阅制度 改", version=9)
    OutboxEntry.objects.all().delete()
    gone_key = f"item-{gone.pk}"
    type(gone).objects.filter(pk=gone.pk).delete()
    report = reconcile(backend=backend, repair=False)
    assert report.outdated == [f"item-{item.pk}"]
    assert report.orphaned == [gone_key]
    assert not report.missing
    repaired = reconcile(backend=backend)
    assert repaired.repaired == 2
    backend.refresh()
    assert reconcile(backend=backend, repair=False).clean
    assert titles(backend, "借阅") == ["借阅制度 改"]


def test_reconcile_finds_missing_documents(backend, catalogue):
    report = reconcile(backend=backend, repair=False)  # nothing was drained yet
    assert len(report.missing) == 11
    reconcile(backend=backend)
    backend.refresh()
    assert backend.count() == 11


def test_reindex_rebuilds_and_catches_up(backend, indexed, monkeypatch):
    import search.sync as sync_module

    changed = indexed["loan"]
    real_iter = sync_module.iter_documents
    state = {"done": False}

    def iter_and_change(kind, **filters):
        for doc in real_iter(kind, **filters):
            yield doc
            if not state["done"]:  # a record changes while the rebuild streams
                state["done"] = True
                edit(changed, title="借阅制度（重建中修改）")

    monkeypatch.setattr(sync_module, "iter_documents", iter_and_change)
    before = backend.live_indices() if isinstance(backend, ElasticsearchBackend) else None
    result = reindex(backend=backend)
    assert result.switched and result.counted == result.expected == 11
    assert result.caught_up >= 1
    backend.refresh()
    assert titles(backend, "重建") == ["借阅制度（重建中修改）"]
    assert backend.count() == 11
    if before is not None:
        after = backend.live_indices()
        assert after == [result.target] and after != before


def test_reindex_refuses_to_switch_on_count_mismatch(backend, indexed, monkeypatch):
    import search.sync as sync_module

    monkeypatch.setattr(sync_module, "expected_count", lambda since: 999)
    before = backend.live_indices() if isinstance(backend, ElasticsearchBackend) else None
    result = reindex(backend=backend)
    assert not result.switched
    if before is not None:
        assert backend.live_indices() == before
    assert titles(backend, "借阅")


def test_reindex_command_prints_progress_and_summary(backend, indexed, capsys):
    call_command("search_reindex", "--no-progress")
    out = capsys.readouterr().out
    assert "11 streamed" in out and "live index switched" in out


def test_reconcile_command(backend, indexed, capsys):
    call_command("search_reconcile", "--dry-run")
    assert "0 missing, 0 outdated, 0 orphaned" in capsys.readouterr().out


def test_sync_command_stops_cleanly_on_sigterm(backend, catalogue, capsys):
    timer = threading.Timer(1.0, os.kill, args=(os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        call_command("search_sync", "--idle", "0.1")
    finally:
        timer.cancel()
    assert "search_sync stopped; 11 documents written" in capsys.readouterr().out
    assert not OutboxEntry.objects.exists()
    assert signal.getsignal(signal.SIGTERM) is not None


def test_sync_command_once(backend, catalogue, capsys):
    call_command("search_sync", "--once")
    assert not OutboxEntry.objects.exists()


def test_healthz_reports_backlog_and_age(client, backend, catalogue):
    with time_machine.travel(timezone.now() + timedelta(seconds=30)):
        state = backlog()
        body = client.get("/healthz").json()
    assert state["backlog"] == 11 and state["oldest_age_seconds"] >= 30 and state["ok"]
    detail = body["checks"]["search_outbox"]
    assert detail["backlog"] == 11 and detail["required"] is False
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert not backlog()["ok"]
    sync(backend)
    assert backlog() == {"ok": True, "backlog": 0, "oldest_age_seconds": 0.0, "max_attempts": 0}


@pytest.fixture
def flaky_node():
    """A stand-in Elasticsearch node over real HTTP: the first two ``_bulk`` requests answer
    429 for every item (a node rejecting work under load), later ones accept everything."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    calls = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self):
            lines = self.rfile.read(int(self.headers["Content-Length"])).splitlines()
            actions = [json.loads(line) for line in lines[::2]]
            calls.append(len(actions))
            status = 429 if len(calls) <= 2 else 201
            items = []
            for action in actions:
                op = {"_id": action["index"]["_id"], "status": status}
                if status == 429:
                    op["error"] = {"type": "es_rejected_execution_exception"}
                items.append({"index": op})
            self._answer({"took": 1, "errors": status == 429, "items": items})

        do_POST = do_PUT

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", calls
    server.shutdown()


def test_bulk_survives_429_with_backoff(monkeypatch, flaky_node):
    import elasticsearch.helpers.actions as actions

    from search.backends.base import BulkResult

    sleeps = []
    monkeypatch.setattr(actions.time, "sleep", sleeps.append)
    url, calls = flaky_node
    backend = ElasticsearchBackend(url, index_prefix="lantai_flaky")
    docs = [{"doc_id": f"item-{n}", "version": 1, "title": "x"} for n in range(5)]
    result = BulkResult()
    backend.index_documents_into(docs, "lantai_flaky-records-x", result)
    assert result.indexed == 5 and not result.errors
    assert calls == [5, 5, 5]  # rejected twice, then accepted
    assert sleeps == [1, 2]  # exponential backoff between the retries


@pytest.fixture
def es(db):
    from tests.search.conftest import make_es_backend

    engine = make_es_backend()
    engine.clear()
    engine.setup()
    with use_backend(engine):
        yield engine
    engine.clear()


def test_rebuild_fills_without_refresh_then_puts_live_settings_back(es, catalogue, monkeypatch):
    """Refresh off, no replicas and an asynchronous translog while the new index fills; the
    live settings are back, and the index is one segment, before the alias moves."""
    import search.backends.elasticsearch as module

    during = {}
    real = es._pipelined_bulk

    def spy(docs, index, result):
        during.update(es.client.indices.get_settings(index=index)[index]["settings"]["index"])
        return real(docs, index, result)

    monkeypatch.setattr(es, "_pipelined_bulk", spy)
    monkeypatch.setattr(module, "REBUILD_CHUNK", 2)  # six bulk requests over both senders
    result = reindex(backend=es)
    assert result.switched and result.streamed == result.counted == 11
    assert during["refresh_interval"] == "-1" and during["number_of_replicas"] == "0"
    assert during["translog"]["durability"] == "async"
    live = es.client.indices.get_settings(index=result.target)[result.target]["settings"]["index"]
    assert live["refresh_interval"] == "1s" and live["translog"]["durability"] == "request"
    segments = es.client.indices.segments(index=result.target)["indices"][result.target]
    assert [len(shard[0]["segments"]) for shard in segments["shards"].values()] == [1]


def test_rebuild_stops_and_drops_the_new_index_when_a_sender_fails(es, catalogue, monkeypatch):
    import search.backends.elasticsearch as module

    monkeypatch.setattr(module, "REBUILD_CHUNK", 2)
    real = es.index_documents_into
    calls = []

    def failing(docs, index, result, **kwargs):
        calls.append(index)
        if len(calls) == 1:
            raise SearchUnavailable("node went away")
        return real(docs, index, result, **kwargs)

    monkeypatch.setattr(es, "index_documents_into", failing)
    before = es.live_indices()
    with pytest.raises(SearchUnavailable):
        reindex(backend=es)
    assert es.live_indices() == before
    assert not es.client.indices.exists(index=calls[0])
    from django.db import connection

    if connection.vendor == "postgresql":  # the database stream is closed, not left to the GC
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_cursors")
            assert cursor.fetchone()[0] == 0


def test_database_rebuild_leaves_fresh_planner_statistics(db, catalogue):
    from django.db import connection

    from search.backends.database import DatabaseSearchBackend
    from tests.gates import require_postgresql

    require_postgresql()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE pg_class SET reltuples = -1 WHERE relname = 'search_document'")
    result = reindex(backend=DatabaseSearchBackend())
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'search_document'")
        assert cursor.fetchone()[0] == result.counted == 11


def test_database_rebuild_outside_a_transaction_vacuums(transactional_db, catalogue):
    from django.db import connection

    from search.backends.database import DatabaseSearchBackend
    from tests.gates import require_postgresql

    require_postgresql()
    reindex(backend=DatabaseSearchBackend())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables"
            " WHERE relname = 'search_document'"
        )
        assert cursor.fetchone()[0]
