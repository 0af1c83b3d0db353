"""Search latency at N records: p50/p95 at a fixed arrival rate over a fixed, varied query set
(Chinese words, names, mixed words, exact codes, filters, facets; public and staff), on
Elasticsearch and on the database backend, beside a naive ``icontains`` scan on the same data.

    BENCH_RECORDS=20000 .venv/bin/python bench/search_latency.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lantai_search_bench \
    ELASTICSEARCH_URL=http://127.0.0.1:9201 BENCH_RECORDS=200000 \
        .venv/bin/python bench/search_latency.py

The catalogue comes from ``seed_demo --records N`` (idempotent; the bench database is whatever
DATABASE_URL names, a SQLite file under var/bench/ when unset). The database backend's index is
built by the seed; the Elasticsearch index (prefix ``lantai_bench``) by the reindex service when
its count differs (BENCH_SEED=0 skips the seed). Queries arrive at BENCH_RATE per second (20)
for BENCH_QUERIES queries (200) on 4 worker threads; the baseline runs BENCH_BASELINE_QUERIES
(40) of the same queries.
Beside the latencies: how many of the query set's answers have capped totals or estimated facet
counts (the database backend counts exactly up to 1,000 and estimates facets beyond).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, ensure_database, report  # noqa: E402

RECORDS = int(os.environ.get("BENCH_RECORDS", "20000"))
RATE = float(os.environ.get("BENCH_RATE", "20"))
QUERIES = int(os.environ.get("BENCH_QUERIES", "200"))
BASELINE_QUERIES = int(os.environ.get("BENCH_BASELINE_QUERIES", "40"))
ES_PREFIX = "lantai_bench"

WORDS = [
    "档案",
    "会议纪要",
    "合同",
    "借阅",
    "基建 合同",
    "2019 工作 总结",
    "人事 任免",
    "财务 预算",
    "干部培训",
    "安全生产",
    "扶贫开发",
    "通知",
    "批复",
    "城市 规划 1998",
    "精神文明建设",
    "防汛",
]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    if not env.get("DATABASE_URL"):
        (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / 'bench' / 'search.sqlite3'}"
    env["ELASTICSEARCH_INDEX_PREFIX"] = ES_PREFIX
    return env


def seed(env: dict[str, str]) -> None:
    """seed_demo with the database backend (its last step builds the database index).
    BENCH_SEED=0 skips it: the catalogue was seeded before (``seed_demo --no-index`` at 10 M,
    so that the reindex bench builds and times both indexes itself)."""
    if os.environ.get("BENCH_SEED", "1") == "0":
        return
    seed_env = dict(env, ELASTICSEARCH_URL="")
    subprocess.run(
        [PYTHON, "manage.py", "seed_demo", "--records", str(RECORDS)],
        cwd=ROOT,
        check=True,
        env=seed_env,
        stdout=subprocess.DEVNULL,
    )


def query_set():
    """A fixed, varied list of (label, SearchRequest, Visibility)."""
    from repository.models import Fonds, Item
    from search.query import FACETS, SearchRequest, Visibility

    rng = random.Random(42)
    total = Item.objects.count()
    codes = [
        Item.objects.order_by("pk").values_list("reference_code", flat=True)[rng.randrange(total)]
        for _ in range(8)
    ]
    fonds_ids = list(Fonds.objects.values_list("pk", flat=True))[:2]
    public = Visibility()
    staff = Visibility(public_only=False, fonds_ids=tuple(fonds_ids), clearance=1)
    everyone = Visibility(public_only=False, fonds_ids=None, clearance=3)
    out = []
    for word in WORDS:
        out.append(("word", SearchRequest(query=word), public))
        out.append(("word_staff", SearchRequest(query=word, facets=FACETS), staff))
    for code in codes:
        out.append(("code", SearchRequest(query=code), everyone))
    out.append(("filter", SearchRequest(query="档案", filters={"year_from": 1990}), staff))
    out.append(("filter", SearchRequest(filters={"carrier": ["photo"]}, sort="code"), public))
    out.append(("facets", SearchRequest(facets=FACETS), everyone))
    out.append(("deep", SearchRequest(query="通知", page=50, size=20), everyone))
    return out


def icontains_search(request, visibility):
    """The naive baseline: visible_to + icontains over the text fields, count + one page."""
    from django.db.models import Q

    from repository.models import Item

    rows = Item.objects.all()
    if visibility.public_only:
        rows = rows.public()
    else:
        q = Q(access_status="open", classification=0)
        staff = Q(classification__lte=visibility.clearance)
        if visibility.fonds_ids is not None:
            staff &= Q(fonds_id__in=visibility.fonds_ids)
        rows = rows.filter(q | staff)
    for word in request.query.split():
        rows = rows.filter(
            Q(title__icontains=word)
            | Q(reference_code__icontains=word)
            | Q(creator__icontains=word)
            | Q(keywords__icontains=word)
        )
    total = rows.count()
    page = list(rows.order_by("-date_start", "pk")[request.offset : request.offset + request.size])
    return total, page


def paced(func, queries, count: int) -> list[tuple[str, float]]:
    """Open-loop arrivals at RATE per second; returns (label, latency ms) pairs."""
    latencies: list[tuple[str, float]] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        from django.db import connections

        label, request, visibility = queries[i % len(queries)]
        started = time.perf_counter()
        try:
            func(request, visibility)
        finally:
            with lock:
                latencies.append((label, (time.perf_counter() - started) * 1000))
            connections.close_all()  # back to the pool, as at the end of a request (untimed)

    with ThreadPoolExecutor(max_workers=4) as pool:
        begin = time.perf_counter()
        futures = []
        for i in range(count):
            delay = begin + i / RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(one, i))
        for future in futures:
            future.result()
    return latencies


GROUPS = {  # besides the whole mix: searches without facets, and staff searches with facets
    "nofacets": {"word", "code", "filter", "deep"},
    "facets": {"word_staff", "facets"},
}


def summarise(name: str, latencies: list[tuple[str, float]]) -> None:
    q = statistics.quantiles([ms for _, ms in latencies], n=100)
    report(f"{name}_p50", q[49], "ms")
    report(f"{name}_p95", q[94], "ms")
    for group, labels in GROUPS.items():
        values = [ms for label, ms in latencies if label in labels]
        if len(values) >= 2:
            report(f"{name}_{group}_p95", statistics.quantiles(values, n=100)[94], "ms")


def exactness(name: str, search, queries) -> None:
    """How many answers of the query set carry capped totals or estimated facet counts (the
    database backend trades exact counts of broad searches for bounded work; not timed)."""
    results = [search(request, visibility) for _, request, visibility in queries]
    with_facets = [r for (_, request, _), r in zip(queries, results, strict=True) if request.facets]
    report(f"{name}_capped_totals", sum(not r.total_exact for r in results), "queries")
    report(f"{name}_facet_queries", len(with_facets), "queries")
    report(f"{name}_estimated_facets", sum(not r.facets_exact for r in with_facets), "queries")


def main() -> None:
    env = environment()
    os.environ.update(env)
    ensure_database(env)
    seed(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import logging

    from django.db import connection

    logging.getLogger("elastic_transport").setLevel(logging.WARNING)  # one line per request

    from repository.models import Item, Volume
    from search.backends.database import DatabaseSearchBackend
    from search.sync import reindex

    n = Item.objects.count() + Volume.objects.count()
    vendor = connection.vendor
    report("search_bench_records", n, "records")
    queries = query_set()
    # warm-up of every query once per engine, then the paced run
    database = DatabaseSearchBackend()
    if database.count() != n:
        reindex(backend=database)
    for _, request, visibility in queries:
        database.search(request, visibility)
    summarise(f"search_db_{vendor}", paced(database.search, queries, QUERIES))
    exactness(f"search_db_{vendor}", database.search, queries)

    es_url = os.environ.get("ELASTICSEARCH_URL")
    if es_url:
        from search.backends.elasticsearch import ElasticsearchBackend

        es = ElasticsearchBackend(es_url, index_prefix=ES_PREFIX, timeout=60)
        es.setup()
        if es.count() != n:
            reindex(backend=es)
        for _, request, visibility in queries:
            es.search(request, visibility)
        summarise("search_elasticsearch", paced(es.search, queries, QUERIES))
        exactness("search_elasticsearch", es.search, queries)
    else:
        print("# ELASTICSEARCH_URL unset: Elasticsearch figures skipped", file=sys.stderr)

    summarise(f"search_icontains_{vendor}", paced(icontains_search, queries, BASELINE_QUERIES))


if __name__ == "__main__":
    main()
