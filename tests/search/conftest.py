"""Search fixtures: a backend per engine (database always, Elasticsearch when configured)
and a small catalogue with Chinese titles, indexed through the outbox like production."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest

from accounts.choices import Classification
from repository.choices import AccessStatus, Carrier, Retention
from repository.models import Category, Fonds, Item, Volume
from search.backends import use_backend
from search.backends.database import DatabaseSearchBackend
from search.outbox import enqueue
from search.sync import drain_once
from tests.gates import require_elasticsearch

BACKENDS = ["database", "elasticsearch"]


def make_es_backend():
    from search.backends.elasticsearch import ElasticsearchBackend

    url = require_elasticsearch()
    prefix = f"lantai_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    return ElasticsearchBackend(url, index_prefix=prefix, timeout=30)


@pytest.fixture(params=BACKENDS)
def backend(request, db):
    """Each contract test runs once per engine, unchanged."""
    if request.param == "database":
        engine = DatabaseSearchBackend()
    else:
        engine = make_es_backend()
        engine.clear()
    engine.setup()
    with use_backend(engine):
        yield engine
    engine.clear()


def sync(engine) -> None:
    """Drain the outbox into ``engine`` and make it searchable now."""
    while drain_once(backend=engine).taken:
        pass
    engine.refresh()


# (key, fonds, category, code, title, creator, year, access, classification, carrier, notes)
RECORDS = [
    (
        "code",
        "A",
        "WS",
        "J012-WS·2019-Y-BGS-0001",
        "关于档案馆建设的请示",
        "办公室",
        2019,
        "open",
        0,
        "paper",
        "档案馆新馆建设",
    ),
    (
        "code2",
        "A",
        "WS",
        "J012-WS·2019-Y-BGS-0002",
        "年度工作总结",
        "办公室",
        2019,
        "open",
        0,
        "paper",
        "",
    ),
    (
        "contract",
        "A",
        "KJ",
        "J012-KJ·2019-Y-JJC-0001",
        "2019年基建工程合同",
        "基建处",
        2019,
        "open",
        0,
        "paper",
        "施工合同 与 监理",
    ),
    (
        "loan",
        "A",
        "WS",
        "J012-WS·2020-D30-BGS-0003",
        "借阅制度修订",
        "张伟",
        2020,
        "open",
        0,
        "electronic",
        "",
    ),
    (
        "unrelated",
        "A",
        "WS",
        "J012-WS·2021-D10-BGS-0004",
        "馆舍安全检查记录",
        "保卫科",
        2021,
        "open",
        0,
        "photo",
        "案卷 检查",
    ),
    (
        "controlled",
        "A",
        "WS",
        "J012-WS·2018-Y-BGS-0005",
        "档案移交清单（控制）",
        "办公室",
        2018,
        "controlled",
        0,
        "paper",
        "",
    ),
    (
        "secret_a",
        "A",
        "WS",
        "J012-WS·2017-Y-BGS-0006",
        "档案保密工作秘密文件",
        "保密办",
        2017,
        "open",
        1,
        "paper",
        "",
    ),
    (
        "confidential_a",
        "A",
        "WS",
        "J012-WS·2016-Y-BGS-0007",
        "档案机密会议纪要",
        "保密办",
        2016,
        "unreviewed",
        2,
        "paper",
        "",
    ),
    (
        "controlled_b",
        "B",
        "WS",
        "J013-WS·2019-Y-BGS-0001",
        "档案征集合同（乙）",
        "征集处",
        2019,
        "controlled",
        0,
        "paper",
        "",
    ),
    (
        "open_b",
        "B",
        "RS",
        "J013-RS·2015-Y-RSC-0001",
        "人事档案目录",
        "人事处",
        2015,
        "open",
        0,
        "paper",
        "<script>alert(1)</script> 档案",
    ),
]


@pytest.fixture
def catalogue(db):
    """Fonds A (J012) and B (J013) with the records above, each enqueued in the outbox."""
    fonds = {
        "A": Fonds.objects.create(code="J012", name="市档案局"),
        "B": Fonds.objects.create(code="J013", name="市人事局"),
    }
    categories = {}
    records = {"fonds": fonds}
    for key, f, cat, code, title, creator, year, access, level, carrier, notes in RECORDS:
        if (f, cat) not in categories:
            categories[(f, cat)] = Category.objects.create(
                fonds=fonds[f], code=cat, name={"WS": "文书", "KJ": "科技", "RS": "人事"}[cat]
            )
        item = Item.objects.create(
            fonds=fonds[f],
            category=categories[(f, cat)],
            reference_code=code,
            title=title,
            creator=creator,
            date_start=dt.date(year, 3, 1),
            filing_year=year,
            access_status=AccessStatus(access),
            classification=Classification(level),
            carrier=Carrier(carrier),
            retention=Retention.PERMANENT,
            notes=notes,
        )
        enqueue(item)
        records[key] = item
    volume = Volume.objects.create(
        fonds=fonds["A"],
        category=categories[("A", "WS")],
        reference_code="J012-WS·2019-Y-BGS-V01",
        title="2019年文书档案汇编",
        date_start=dt.date(2019, 1, 1),
        access_status=AccessStatus.OPEN,
    )
    enqueue(volume)
    records["volume"] = volume
    records["categories"] = categories
    return records


@pytest.fixture
def indexed(catalogue, backend):
    sync(backend)
    return catalogue
