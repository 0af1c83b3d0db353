"""Staff catalogue list, record detail and where-is latency at N records (ISSUE 3 figures).

    .venv/bin/python bench/catalogue_list.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lantai_repo_bench BENCH_RECORDS=1000000 \
        .venv/bin/python bench/catalogue_list.py

Over HTTP against Uvicorn with production settings, signed in as the demo archivist (sequential
requests, p50/p95 of BENCH_REQUESTS = 100 each): the staff list page 1 and the deepest page
(page 10,000 when there are enough records: keyset ``after=``), a record detail page, the
where-is API. In the same run, in-process, the paging baseline: keyset vs OFFSET + COUNT (what
Django's Paginator does) at page 1 and at the deep page; and the where-is look-up itself (the
service the API calls, user permissions read afresh each time) beside the HTTP API figure.
"""

from __future__ import annotations

import os
from urllib.parse import urlencode

import httpx
from _catalogue_setup import http_timed, prepare, server_env, session_cookie, timed
from _harness import asgi_server, report

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "100"))
PAGE = 50
DEEP_PAGE = 10_000


def main() -> None:
    env = prepare()
    from repository import listing
    from repository.models import Item

    total = Item.objects.count()
    deep = min(DEEP_PAGE, max(2, total // PAGE - 1))
    codes = list(
        Item.objects.order_by("reference_code").values_list("reference_code", flat=True)[
            (deep - 1) * PAGE - 1 : (deep - 1) * PAGE
        ]
    )
    after_deep = codes[0]
    from accounts.models import User

    archivist = User.objects.get(username="archivist")
    base = listing.visible_records(archivist, listing.Filters(kind="item"))

    # In-process paging comparison (same queryset, same user).
    def keyset(after=""):
        return lambda: list(listing.keyset_page(base, after=after, size=PAGE).rows)

    def offset(page):
        def run():
            base.count()
            return list(base.order_by("reference_code")[(page - 1) * PAGE : page * PAGE])

        return run

    repeat = max(20, REQUESTS // 4)
    for label, fn in (
        ("keyset_page1", keyset()),
        ("keyset_deep", keyset(after_deep)),
        ("offset_count_page1", offset(1)),
        ("offset_count_deep", offset(deep)),
    ):
        _p50, p95 = timed(fn, repeat)
        report(f"catalogue_query_{label}_p95", p95, "ms")
    report("catalogue_deep_page_number", deep, "page")

    sample = list(
        Item.objects.order_by("pk").values_list("pk", "reference_code")[: 10_000 : 10_000 // 50]
    )

    # The where-is look-up itself (the service, as the API calls it), with the user's roles and
    # fonds permissions read afresh each time as in a new request.
    from repository import services

    def lookup(i=[0]):  # noqa: B006 - a counter
        code = sample[i[0] % len(sample)][1]
        i[0] += 1
        assert services.where_is(code, user=User.objects.get(pk=archivist.pk)) is not None

    p50, p95 = timed(lookup, REQUESTS)
    report("where_is_lookup_p50", p50, "ms")
    report("where_is_lookup_p95", p95, "ms")
    name, value = session_cookie("archivist")
    prod = server_env(env)
    with (
        asgi_server("uvicorn", prod) as url,
        httpx.Client(base_url=url, cookies={name: value}, timeout=30) as client,
    ):
        # The floor of this server on this machine: a tiny endpoint, same client and loop.
        p50, p95, _errors = http_timed(client, ["/healthz"], REQUESTS)
        report("server_floor_healthz_p50", p50, "ms")
        report("server_floor_healthz_p95", p95, "ms")
        list_url = "/staff/catalogue/?" + urlencode({"kind": "item"})
        deep_url = "/staff/catalogue/?" + urlencode({"kind": "item", "after": after_deep})
        for label, urls in (("page1", [list_url]), ("deep", [deep_url])):
            p50, p95, errors = http_timed(client, urls, REQUESTS)
            report(f"catalogue_list_{label}_p50", p50, "ms")
            report(f"catalogue_list_{label}_p95", p95, "ms")
            if errors:
                report(f"catalogue_list_{label}_errors", errors, "responses")
        detail_urls = [f"/staff/catalogue/item/{pk}/" for pk, _code in sample]
        p50, p95, errors = http_timed(client, detail_urls, REQUESTS)
        report("record_detail_p50", p50, "ms")
        report("record_detail_p95", p95, "ms")
        where_urls = ["/api/v1/where-is/?" + urlencode({"code": code}) for _pk, code in sample]
        p50, p95, errors = http_timed(client, where_urls, REQUESTS)
        report("where_is_p50", p50, "ms")
        report("where_is_p95", p95, "ms")
        if errors:
            report("where_is_errors", errors, "responses")


if __name__ == "__main__":
    main()
