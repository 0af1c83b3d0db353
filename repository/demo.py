"""Demo catalogue for ``seed_demo --records N``: fonds with their code patterns, category
schemes, store rooms per template, shelving and positions, and N records (volumes with their
items, and loose items) with plausible Chinese titles from 1950 to 2025, every one placed.

Idempotent and deterministic: record *k* of each stream is always the same record, so a second
run writes only what is missing (and nothing when N is already there). Bulk paths only:
``bulk_create`` in batches, ``COPY`` on PostgreSQL for the big item table. Seeded records get
no search-outbox rows: ``search_reindex`` indexes in bulk.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter
from tqdm import tqdm

from accounts.choices import Classification, Role
from accounts.permissions import grant, role_group
from repository import boxes, codes, services
from repository.choices import AccessStatus, Carrier, DatePrecision, Retention, RoomTemplate
from repository.models import Box, Category, Fonds, Item, Position, ShelvingUnit, StoreRoom, Volume

SEED = 20260101
ITEMS_PER_VOLUME = 4  # each seeded volume holds this many items
VOLUME_SHARE = 20  # one volume (with its items) per this many records
BATCH = 5000
BIG_LOAD = 100_000  # from this many records on, keys and indexes are rebuilt at the end
POSITION_CAPACITY = 40

PATTERN_DOTTED = {
    "volume": "{fonds}-{category}·{year}-{retention}-{volume:4}",
    "item": "{fonds}-{category}·{year}-{retention}-{unit}-{item:4}",
    "item_in_volume": "{volume_code}-{item:3}",
}
PATTERN_PLAIN = {
    "volume": "{fonds}-{category}-{year}-{retention}-{volume:4}",
    "item": "{fonds}-{category}-{year}-{retention}-{item:5}",
    "item_in_volume": "{volume_code}-{item:3}",
}

CATEGORY_NAMES = {
    "WS": "文书",
    "KJ": "科技",
    "KU": "会计",
    "RS": "人事",
    "ZP": "照片",
    "LY": "录音",  # DA/T 13-2022: LY 录音 and LX 录像 are two categories
    "LX": "录像",
    "SW": "实物",
}


@dataclass(frozen=True)
class DemoFonds:
    code: str
    name: str
    categories: tuple[str, ...]
    units: tuple[str, ...]
    pattern: dict
    weight: int


FONDS = (
    DemoFonds(
        "J001",
        "市人民政府办公室",
        ("WS", "ZP", "LY", "LX", "SW"),
        ("BGS", "ZCS", "XXK", "DCS"),
        PATTERN_DOTTED,
        30,
    ),
    DemoFonds(
        "J012", "市档案局", ("WS", "KU", "RS", "ZP"), ("BGS", "YWK", "JDK"), PATTERN_DOTTED, 15
    ),
    DemoFonds(
        "J023", "市教育局", ("WS", "RS", "ZP", "KU"), ("BGS", "JYK", "RSK"), PATTERN_DOTTED, 20
    ),
    DemoFonds(
        "J035",
        "市卫生健康委员会",
        ("WS", "KU", "ZP", "LX"),
        ("BGS", "YZK", "JKK"),
        PATTERN_DOTTED,
        15,
    ),
    DemoFonds("Q047", "市第一机械厂", ("WS", "KJ", "KU", "RS", "SW"), ("CZB",), PATTERN_PLAIN, 20),
)

FONDS_INDEXES = list(range(len(FONDS)))
FONDS_CUM_WEIGHTS = list(itertools.accumulate(f.weight for f in FONDS))
CATEGORY_WEIGHTS = [[6] + [2] * (len(f.categories) - 1) for f in FONDS]
RETENTIONS = [str(v) for v in Retention.values]

ROOMS = (
    ("K01", "一号纸质档案库", RoomTemplate.PAPER, "档案馆新馆", "3F"),
    ("K02", "二号纸质档案库", RoomTemplate.PAPER, "档案馆新馆", "4F"),
    ("K03", "特藏库", RoomTemplate.SPECIAL, "档案馆新馆", "5F"),
    ("K04", "音像磁带库", RoomTemplate.TAPE, "档案馆新馆", "2F"),
    ("K05", "胶片拷贝库", RoomTemplate.FILM_COPY, "档案馆新馆", "2F"),
    ("K06", "胶片母片库", RoomTemplate.FILM_MASTER, "档案馆新馆", "B1"),
    ("K07", "照片档案库", RoomTemplate.PHOTO, "档案馆新馆", "5F"),
    ("K08", "光盘库", RoomTemplate.OPTICAL, "档案馆新馆", "2F"),
)
# Which rooms keep which carriers: each in the store of its kind (repository.choices
# CLIMATE_RANGES); electronic records are kept offline on archival discs (GB/T 18894).
ROOM_FOR_CARRIER = {
    Carrier.PAPER: ("K01", "K02"),
    Carrier.ELECTRONIC: ("K08",),
    Carrier.PHOTO: ("K07",),
    Carrier.AUDIO: ("K04",),
    Carrier.VIDEO: ("K04",),
    Carrier.OBJECT: ("K03",),
}

TOPICS = (
    "城市总体规划修编",
    "防汛抗旱工作",
    "安全生产大检查",
    "春季植树造林",
    "爱国卫生运动",
    "农村饮水安全工程",
    "干部培训工作",
    "精神文明建设",
    "财政预算执行情况",
    "招商引资工作",
    "老旧小区改造",
    "义务教育均衡发展",
    "档案安全检查",
    "疫情防控工作",
    "科技创新奖励",
    "民生实事项目",
    "土地征收补偿",
    "扶贫开发工作",
    "人口普查工作",
    "节能减排工作",
)
DOC_FORMS = ("通知", "请示", "报告", "批复", "会议纪要", "意见", "工作总结", "实施方案", "函")
PROJECTS = ("新厂房", "铸造车间", "职工宿舍楼", "锅炉房", "办公楼", "污水处理站", "数控机床生产线")
KJ_FORMS = ("施工图", "设计说明书", "竣工验收报告", "地质勘察报告", "设备安装记录", "工艺文件")
EVENTS = (
    "全市劳动模范表彰大会",
    "市人民代表大会开幕",
    "新馆落成典礼",
    "抗洪抢险",
    "建城纪念活动",
    "运动会",
    "外宾来访",
    "重点工程奠基仪式",
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def _title(rng: random.Random, category: str, year: int, fonds_name: str) -> tuple[str, str]:
    """(title, creator) plausible for the category and year."""
    if category == "WS":
        topic = rng.choice(TOPICS)
        form = rng.choice(DOC_FORMS)
        if form in ("请示", "报告"):
            return f"关于{year}年{topic}的{form}", fonds_name
        return f"{fonds_name}关于{topic}的{form}", fonds_name
    if category == "KJ":
        return f"{rng.choice(PROJECTS)}{rng.choice(KJ_FORMS)}", "设计处"
    if category == "KU":
        if rng.random() < 0.2:
            return f"{year}年度财务决算报告", "财务科"
        return f"{year}年{rng.randint(1, 12)}月记账凭证 第{rng.randint(1, 30)}册", "财务科"
    if category == "RS":
        name = (
            rng.choice(SURNAMES)
            + rng.choice(GIVEN)
            + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
        )
        form = rng.choice(("干部任免审批表", "职工调资审批表", "退休审批表", "职称评定材料"))
        return f"{name}{form}", "人事科"
    if category == "ZP":
        return f"{year}年{rng.choice(EVENTS)}照片", "宣传科"
    if category == "LY":
        return f"{year}年{rng.choice(EVENTS)}录音", "宣传科"
    if category == "LX":
        return f"{year}年{rng.choice(EVENTS)}录像", "宣传科"
    return (
        f"{rng.choice(EVENTS)}纪念品（{rng.choice(('奖牌', '锦旗', '奖杯', '证书'))}）",
        fonds_name,
    )


def retention_for(category: str, title: str, drawn: str) -> str:
    """The retention tables, where they fix the period: 《会计档案管理办法》(财政部 国家档案局令
    第79号, 2015) 附表1: 会计凭证 30年, 年度财务会计报告 永久; 人事 files are kept permanently.
    Other categories keep the period drawn (the demo's mix of 永久/30年/10年)."""
    if category == "KU":
        return Retention.PERMANENT if "年度财务" in title else Retention.YEARS_30
    if category == "RS":
        return Retention.PERMANENT
    return drawn


def _carrier(rng: random.Random, category: str, year: int) -> str:
    if category == "ZP":
        return Carrier.PHOTO
    if category == "LY":
        return Carrier.AUDIO
    if category == "LX":
        return Carrier.VIDEO
    if category == "SW":
        return Carrier.OBJECT
    return Carrier.ELECTRONIC if year >= 2015 and rng.random() < 0.3 else Carrier.PAPER


@dataclass
class Draft:
    fonds_index: int
    category: str
    year: int
    retention: str
    unit: str
    title: str
    creator: str
    date: dt.date
    classification: int
    access_status: str
    carrier: str
    pages: int


def _draft(rng: random.Random, today: dt.date) -> Draft:
    fonds_index = rng.choices(FONDS_INDEXES, cum_weights=FONDS_CUM_WEIGHTS)[0]
    fonds = FONDS[fonds_index]
    category = rng.choices(fonds.categories, weights=CATEGORY_WEIGHTS[fonds_index])[0]
    year = min(2025, int(1950 + 75 * math.sqrt(rng.random())))  # more recent records
    date = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
    retention = rng.choices(RETENTIONS, weights=(5, 3, 2))[0]
    roll = rng.random()
    classification = Classification.NONE
    if roll < 0.002:
        classification = Classification.TOP_SECRET
    elif roll < 0.012:
        classification = Classification.CONFIDENTIAL
    elif roll < 0.04:
        classification = Classification.SECRET
    old = today.year - year >= 25
    roll = rng.random()
    if classification:
        status = AccessStatus.CONTROLLED if roll < 0.7 else AccessStatus.UNREVIEWED
    elif old:
        status = (
            AccessStatus.OPEN
            if roll < 0.6
            else AccessStatus.CONTROLLED
            if roll < 0.85
            else AccessStatus.UNREVIEWED
        )
    else:
        status = AccessStatus.OPEN if roll < 0.1 else AccessStatus.UNREVIEWED
    title, creator = _title(rng, category, year, fonds.name)
    retention = retention_for(category, title, retention)
    return Draft(
        fonds_index=fonds_index,
        category=category,
        year=year,
        retention=retention,
        unit=rng.choice(fonds.units),
        title=title,
        creator=creator,
        date=date,
        classification=classification,
        access_status=status,
        carrier=_carrier(rng, category, year),
        pages=rng.randint(1, 120),
    )


@lru_cache(maxsize=16)
def prefix_format(template: str) -> str:
    """Format string of everything before the final number segment."""
    full = codes.python_format(template)
    return full[: full.rindex("{")]


class Numbering:
    """Replays the code counters so that stream position k always gets the same code."""

    def __init__(self):
        self.counters: dict[str, int] = {}

    def take(self, prefix: str) -> int:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return self.counters[prefix]


def volume_stream(today: dt.date) -> Iterator[tuple[Draft, str, list[str]]]:
    """Volumes: (draft, volume code, item codes)."""
    rng = random.Random(SEED)
    numbering = Numbering()
    while True:
        draft = _draft(rng, today)
        fonds = FONDS[draft.fonds_index]
        values = {
            "fonds": fonds.code,
            "category": draft.category,
            "year": f"{draft.year:04d}",
            "retention": draft.retention,
            "unit": draft.unit,
        }
        prefix = prefix_format(fonds.pattern["volume"]).format(**values)
        values["volume"] = numbering.take(prefix)
        code = codes.format_code(fonds.pattern["volume"], values)
        items = [
            codes.format_code(fonds.pattern["item_in_volume"], {"volume_code": code, "item": n})
            for n in range(1, ITEMS_PER_VOLUME + 1)
        ]
        yield draft, code, items


def item_stream(today: dt.date) -> Iterator[tuple[Draft, str]]:
    rng = random.Random(SEED + 1)
    numbering = Numbering()
    while True:
        draft = _draft(rng, today)
        fonds = FONDS[draft.fonds_index]
        values = {
            "fonds": fonds.code,
            "category": draft.category,
            "year": f"{draft.year:04d}",
            "retention": draft.retention,
            "unit": draft.unit,
        }
        prefix = prefix_format(fonds.pattern["item"]).format(**values)
        values["item"] = numbering.take(prefix)
        yield draft, codes.format_code(fonds.pattern["item"], values)


# --- structure ----------------------------------------------------------------------------


def _ensure_structure() -> tuple[dict[str, Fonds], dict[tuple[str, str], Category]]:
    fonds_map, categories = {}, {}
    staff_groups = [role_group(r) for r in (Role.FRONT_DESK, Role.APPROVER, Role.KEEPER)]
    archivists = role_group(Role.ARCHIVIST)
    for demo in FONDS:
        fonds, _ = Fonds.objects.get_or_create(
            code=demo.code, defaults={"name": demo.name, "code_pattern": demo.pattern}
        )
        fonds_map[demo.code] = fonds
        for code in demo.categories:
            categories[(demo.code, code)] = Category.objects.get_or_create(
                fonds=fonds, code=code, defaults={"name": CATEGORY_NAMES[code]}
            )[0]
        # The demo works out of the box: archivists describe every fonds, other staff see it.
        grant("repository.view_fonds_records", archivists, fonds)
        grant("repository.change_fonds_records", archivists, fonds)
        for group in staff_groups:
            grant("repository.view_fonds_records", group, fonds)
    return fonds_map, categories


def _places_needed(records: int) -> dict[str, int]:
    """Rough places per room (volumes and loose items take one place each)."""
    places = max(records, 200)
    return {
        "K01": places * 45 // 100,
        "K02": places * 45 // 100,
        "K03": places * 3 // 100 + 50,
        "K04": places * 5 // 100 + 50,
        "K05": 200,
        "K06": 200,
        "K07": places * 7 // 100 + 50,
        "K08": places * 5 // 100 + 50,
    }


def _ensure_rooms(records: int) -> dict[str, StoreRoom]:
    rooms = {}
    needed = _places_needed(records)
    for code, name, template, building, floor in ROOMS:
        room, _ = StoreRoom.objects.get_or_create(
            code=code,
            defaults={"name": name, "template": template, "building": building, "floor": floor},
        )
        rooms[code] = room
        paper = template == RoomTemplate.PAPER
        columns, sections, layers, sides = (10, 5, 6, 2) if paper else (6, 4, 5, 2)
        per_unit = columns * sections * layers * sides * POSITION_CAPACITY
        # Headroom: 30 % free places, and room for moves.
        wanted = max(1, math.ceil(needed[code] * 1.3 / per_unit))
        existing = ShelvingUnit.objects.filter(room=room).count()
        for number in range(existing + 1, wanted + 1):
            unit = ShelvingUnit.objects.create(
                room=room,
                code=f"{number:02d}",
                name=f"{number}号{'密集架' if paper else '柜架'}",
                kind="mobile" if paper else "fixed",
                columns=columns,
                sections=sections,
                layers=layers,
                sides=sides,
                position_capacity=POSITION_CAPACITY,
            )
            Position.objects.bulk_create(services.build_positions(unit), batch_size=BATCH)
    return rooms


class Shelver:
    """Hands out positions in shelf order per room, filling each up to its capacity."""

    def __init__(self, rooms: dict[str, StoreRoom]):
        self.free: dict[str, list[list[int]]] = {}
        counts: dict[int, int] = {}
        for model, extra in ((Volume, {}), (Item, {"volume__isnull": True})):
            for pid, n in (
                model.objects.filter(position__isnull=False, **extra)
                .values_list("position_id")
                .annotate(n=Count("id"))
            ):
                counts[pid] = counts.get(pid, 0) + n
        for code, room in rooms.items():
            rows = Position.objects.filter(room=room).order_by("path").values_list("id", "capacity")
            self.free[code] = [[pid, cap - counts.get(pid, 0)] for pid, cap in rows]
            self.free[code].reverse()  # pop from the end = shelf order

    def place(self, carrier: str, rng: random.Random) -> int | None:
        rooms = ROOM_FOR_CARRIER[carrier]
        room = rooms[0] if len(rooms) == 1 else rooms[rng.randrange(len(rooms))]
        for candidate in (room, *rooms):
            stack = self.free[candidate]
            while stack and stack[-1][1] <= 0:
                stack.pop()
            if stack:
                stack[-1][1] -= 1
                return stack[-1][0]
        return None


# --- records ------------------------------------------------------------------------------

ITEM_COLUMNS = (
    "fonds_id",
    "category_id",
    "reference_code",
    "title",
    "creator",
    "date_start",
    "date_end",
    "date_precision",
    "pages",
    "retention",
    "classification",
    "access_status",
    "carrier",
    "keywords",
    "notes",
    "filing_year",
    "org_unit",
    "next_review_on",
    "position_id",
    "box_id",
    "version",
    "created_at",
    "updated_at",
    "volume_id",
    "sequence",
    "document_number",
    "date_inferred",
    "project_code",
    "catalogue_number",
    "legacy_values",
)


def _record_values(draft: Draft, code: str, fonds_map, categories, position_id, now) -> dict:
    fonds = FONDS[draft.fonds_index]
    return {
        "fonds_id": fonds_map[fonds.code].pk,
        "category_id": categories[(fonds.code, draft.category)].pk,
        "reference_code": code,
        "title": draft.title,
        "creator": draft.creator,
        "date_start": draft.date,
        "date_end": draft.date,
        "date_precision": DatePrecision.DAY,
        "pages": draft.pages,
        "retention": draft.retention,
        "classification": draft.classification,
        "access_status": draft.access_status,
        "carrier": draft.carrier,
        "keywords": "",
        "notes": "",
        "filing_year": draft.year,
        "org_unit": draft.unit,
        "next_review_on": None,
        "position_id": position_id,
        "box_id": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "volume_id": None,
        "sequence": None,
        "document_number": "",
        "date_inferred": False,
        "project_code": "",
        "catalogue_number": "",
        "legacy_values": {},
    }


def _write_items(rows: list[dict]) -> None:
    if not rows:
        return
    with item_sink() as write:
        write(rows)


@contextmanager
def item_sink():
    """``write(rows)`` into the item table: one streaming COPY on PostgreSQL (the server
    ingests while we generate; a background thread sends), batched bulk_create elsewhere."""
    if connection.vendor != "postgresql":
        yield lambda rows: Item.objects.bulk_create([Item(**r) for r in rows], batch_size=BATCH)
        return

    table = Item._meta.db_table
    # jsonb goes through COPY as its text (the demo writes no legacy values: always "{}").
    plain = [c for c in ITEM_COLUMNS if c != "legacy_values"]
    columns = ", ".join([*plain, "legacy_values"])
    getter = itemgetter(*plain)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3 cursor
        statement = f"COPY {table} ({columns}) FROM STDIN"
        with raw.copy(statement, writer=QueuedLibpqWriter(raw)) as copy:

            def write(rows):
                for row in rows:
                    copy.write_row((*getter(row), "{}"))

            yield write


@contextmanager
def bulk_load_mode(tables: list[str]):
    """On PostgreSQL, for a big load: drop the tables' foreign keys and secondary (non-unique)
    indexes, and add them back afterwards — one validating join per key and one sorted build
    per index instead of a trigger and random index inserts per row. It all runs in the
    caller's transaction (DDL is transactional), so a failure leaves everything as it was."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])",
            [tables],
        )
        keys = cursor.fetchall()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary AND NOT indisunique",
            [tables],
        )
        indexes = cursor.fetchall()
        for table, name, _definition in keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        for _name, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in keys:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def seed(*, records: int, out) -> None:
    today = timezone.localdate()
    with transaction.atomic():
        fonds_map, categories = _ensure_structure()
        rooms = _ensure_rooms(records)
    target_volumes = records // VOLUME_SHARE
    target_loose = records - target_volumes * (1 + ITEMS_PER_VOLUME)
    have_volumes = Volume.objects.filter(fonds__code__in=fonds_map).count()
    have_loose = Item.objects.filter(fonds__code__in=fonds_map, volume__isnull=True).count()
    todo = max(0, target_volumes - have_volumes) * (1 + ITEMS_PER_VOLUME) + max(
        0, target_loose - have_loose
    )
    if todo == 0:
        out.write(f"catalogue: {have_volumes} volumes and their items, {have_loose} loose items")
        _ensure_boxes(fonds_map, out)
        return
    shelver = Shelver(rooms)
    rng = random.Random(SEED + 2 + have_volumes + have_loose)
    now = timezone.now()
    progress = tqdm(total=todo, desc="catalogue", unit="rec", mininterval=1, leave=False)
    big = todo >= BIG_LOAD
    tables = [Item._meta.db_table, Volume._meta.db_table]
    with transaction.atomic(), bulk_load_mode(tables) if big else nullcontext():
        # Volumes (bulk_create returns their ids) and their items.
        stream = volume_stream(today)
        batch: list[tuple[Draft, str, list[str]]] = []
        for index in range(target_volumes):
            entry = next(stream)
            if index < have_volumes:
                continue
            batch.append(entry)
            if len(batch) * (1 + ITEMS_PER_VOLUME) >= BATCH or index == target_volumes - 1:
                _write_volumes(batch, fonds_map, categories, shelver, rng, now)
                progress.update(len(batch) * (1 + ITEMS_PER_VOLUME))
                batch = []
        # Loose items (以件为单位), streamed.
        stream_items = item_stream(today)
        rows: list[dict] = []
        with item_sink() as write:
            for index in range(target_loose):
                draft, code = next(stream_items)
                if index < have_loose:
                    continue
                position = shelver.place(draft.carrier, rng)
                rows.append(_record_values(draft, code, fonds_map, categories, position, now))
                if len(rows) >= BATCH:
                    write(rows)
                    progress.update(len(rows))
                    rows = []
            write(rows)
            progress.update(len(rows))
    progress.close()
    out.write(
        f"catalogue: {target_volumes} volumes with {ITEMS_PER_VOLUME} items each, "
        f"{target_loose} loose items; {Position.objects.count()} positions in {len(rooms)} rooms"
    )
    _ensure_boxes(fonds_map, out)


BOXES_PER_FONDS = 3
VOLUMES_PER_BOX = 4


def _ensure_boxes(fonds_map: dict[str, Fonds], out) -> None:
    """A few boxes (档案盒) per fonds, each holding the first shelved paper volumes of the fonds and
    standing where the first of them stood, put together through the box services (so each has
    its moves and audit rows). Only when the archive has no boxes yet."""

    if Box.objects.exists():
        return
    made = 0
    for fonds in fonds_map.values():
        candidates = (
            Volume.objects.filter(
                fonds=fonds, carrier=Carrier.PAPER, position__isnull=False, box__isnull=True
            )
            .select_related("position")
            .order_by("pk")[:500]
        )
        # DA/T 22-2015 §6.4: one 年度, 保管期限 and 机构 per box.
        buckets: dict[tuple, list] = {}
        for volume in candidates:
            key = (volume.filing_year, volume.retention, volume.org_unit)
            buckets.setdefault(key, []).append(volume)
        groups = [
            bucket[start : start + VOLUMES_PER_BOX]
            for bucket in buckets.values()
            for start in range(0, len(bucket), VOLUMES_PER_BOX)
        ][:BOXES_PER_FONDS]
        for number, group in enumerate(groups, start=1):
            shelf = group[0].position
            with transaction.atomic():
                box = boxes.create_box(
                    acting_user=None,
                    code=f"{fonds.code}-H-{number:04d}",
                    fonds=fonds,
                    capacity=10,
                    room=shelf.room,
                )
                boxes.put_in_box(group, box, acting_user=None)
                boxes.move_box(box, shelf, acting_user=None, reason="示例数据：装盒上架")
            made += 1
    out.write(f"boxes: {made}")


def _write_volumes(batch, fonds_map, categories, shelver, rng, now) -> None:
    volumes = []
    for draft, code, _items in batch:
        position = shelver.place(draft.carrier, rng)
        values = _record_values(draft, code, fonds_map, categories, position, now)
        del values["volume_id"], values["sequence"]
        volumes.append(Volume(**values))
    Volume.objects.bulk_create(volumes, batch_size=BATCH)
    rows = []
    for volume, (draft, _code, item_codes) in zip(volumes, batch, strict=True):
        for sequence, item_code in enumerate(item_codes, start=1):
            values = _record_values(
                draft, item_code, fonds_map, categories, volume.position_id, now
            )
            values.update(
                volume_id=volume.pk,
                sequence=sequence,
                title=f"{draft.title}（第{sequence}件）",
                pages=max(1, draft.pages // ITEMS_PER_VOLUME),
            )
            rows.append(values)
    _write_items(rows)
