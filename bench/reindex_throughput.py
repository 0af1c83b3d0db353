"""Full reindex throughput and the reindexer's peak memory, beside the ceiling: a raw
``helpers.bulk`` of pre-built documents into a scratch index in the same run.

    BENCH_RECORDS=20000 .venv/bin/python bench/reindex_throughput.py
    BENCH_RECORDS=20000 BENCH_REINDEX_WORKERS=2 .venv/bin/python bench/reindex_throughput.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lantai_search_bench \
    ELASTICSEARCH_URL=http://127.0.0.1:9201 BENCH_RECORDS=200000 \
        .venv/bin/python bench/reindex_throughput.py

``search_reindex`` runs in a child process (its own peak RSS is reported) into Elasticsearch
(when ELASTICSEARCH_URL is set) and into the database backend. The ceiling pre-builds at most
BENCH_CEILING_DOCS (100000) documents in memory, then bulk-loads them with no database reads:
once as it always was (one connection), once the way a rebuild sends (parallel, build settings).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, production_env, report  # noqa: E402
from search_latency import ES_PREFIX, ensure_database, environment, seed  # noqa: E402

CEILING_DOCS = int(os.environ.get("BENCH_CEILING_DOCS", "100000"))

WORKERS = os.environ.get("BENCH_REINDEX_WORKERS", "1")  # search_reindex --workers

CHILD = """
import os, resource, sys, django
django.setup()
from django.core.management import call_command
call_command("search_reindex", "--no-progress", "--workers", os.environ["BENCH_REINDEX_WORKERS"])
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
print("WORKERS_PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run_reindex(env: dict[str, str]) -> tuple[float, int, float]:
    """(records/s, records, peak RSS MiB) of ``search_reindex`` in a child process (with
    BENCH_REINDEX_WORKERS analysis workers; the largest worker's peak RSS is printed)."""
    # Production settings: with DEBUG on, Django keeps the last 9,000 SQL statements in memory,
    # which would be counted as the reindexer's own memory.
    child_env = production_env(
        **{k: v for k, v in env.items() if k in ("DATABASE_URL", "ELASTICSEARCH_URL")},
        ELASTICSEARCH_INDEX_PREFIX=ES_PREFIX,
        DJANGO_SETTINGS_MODULE="config.settings",
        BENCH_REINDEX_WORKERS=WORKERS,
    )
    done = subprocess.run(
        [PYTHON, "-c", CHILD], cwd=ROOT, env=child_env, capture_output=True, text=True
    )
    if done.returncode:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"search_reindex failed (exit {done.returncode})")
    streamed = int(re.search(r"(\d+) streamed", done.stdout).group(1))
    seconds = float(re.search(r"([\d.]+)s \(", done.stdout).group(1))
    rss_kb = int(re.search(r"^PEAK_RSS_KB (\d+)", done.stdout, re.M).group(1))
    workers_kb = int(re.search(r"WORKERS_PEAK_RSS_KB (\d+)", done.stdout).group(1))
    if WORKERS != "1":
        print(f"# {WORKERS} analysis workers, largest peak RSS {workers_kb / 1024:.0f} MiB")
    return streamed / seconds, streamed, rss_kb / 1024


def ceiling(env: dict[str, str]) -> tuple[float, float, int]:
    """Raw bulk of documents already built in memory (no database, no versions), twice: the
    plain ceiling (one ``helpers.bulk`` connection, 1,000 per request, refresh off: unchanged
    since the first measurements), and the same documents sent the way a rebuild sends them
    (``SENDERS`` connections, ``REBUILD_CHUNK`` per request, ``BUILD_SETTINGS``). Returns
    (plain records/s, parallel records/s, records)."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import logging

    from elasticsearch import Elasticsearch, helpers

    logging.getLogger("elastic_transport").setLevel(logging.WARNING)

    from search.backends.elasticsearch import (
        BUILD_SETTINGS,
        REBUILD_CHUNK,
        SENDERS,
        build_index,
    )
    from search.documents import iter_documents, record_models

    docs = []
    for kind in record_models():
        for doc in iter_documents(kind):
            docs.append(doc)
            if len(docs) >= CEILING_DOCS:
                break
        if len(docs) >= CEILING_DOCS:
            break
    client = Elasticsearch(env["ELASTICSEARCH_URL"], request_timeout=120)
    name = f"{ES_PREFIX}-ceiling"
    client.indices.delete(index=name, ignore_unavailable=True)
    body = build_index(name).to_dict()
    body["settings"]["refresh_interval"] = "-1"
    client.indices.create(index=name, **body)
    started = time.perf_counter()
    helpers.bulk(
        client,
        ({"_index": name, "_id": d["doc_id"], "_source": d} for d in docs),
        chunk_size=1000,
    )
    elapsed = time.perf_counter() - started
    client.indices.delete(index=name, ignore_unavailable=True)

    body = build_index(name).to_dict()
    body["settings"].update(BUILD_SETTINGS)
    client.indices.create(index=name, **body)
    started = time.perf_counter()
    for ok, info in helpers.parallel_bulk(
        client,
        ({"_index": name, "_id": d["doc_id"], "_source": d} for d in docs),
        thread_count=SENDERS,
        chunk_size=REBUILD_CHUNK,
        queue_size=SENDERS,
    ):
        if not ok:
            raise SystemExit(f"parallel ceiling: {info}")
    parallel = time.perf_counter() - started
    client.indices.delete(index=name, ignore_unavailable=True)
    return len(docs) / elapsed, len(docs) / parallel, len(docs)


def main() -> None:
    env = environment()
    ensure_database(env)
    seed(env)
    if env.get("ELASTICSEARCH_URL"):
        rate, n, rss = run_reindex(env)
        report("reindex_elasticsearch_records", n, "records")
        report("reindex_elasticsearch_throughput", rate, "records/s")
        report("reindex_elasticsearch_peak_rss", rss, "MiB")
        ceiling_rate, parallel_rate, ceiling_n = ceiling(env)
        report("reindex_ceiling_raw_bulk_records", ceiling_n, "records")
        report("reindex_ceiling_raw_bulk_throughput", ceiling_rate, "records/s")
        report("reindex_ceiling_parallel_raw_bulk_throughput", parallel_rate, "records/s")
    else:
        print("# ELASTICSEARCH_URL unset: Elasticsearch figures skipped", file=sys.stderr)
    rate, n, rss = run_reindex(dict(env, ELASTICSEARCH_URL=""))
    report("reindex_database_records", n, "records")
    report("reindex_database_throughput", rate, "records/s")
    report("reindex_database_peak_rss", rss, "MiB")


if __name__ == "__main__":
    main()
