"""The leak sweep: 14 personas through every door of every app.

The rule (SPEC, "Classification"; 档案法 §28 and DA/T 18 on 开放/控制使用): a record is seen by
the public and researchers only when it is open and unclassified; by archive staff also when
their clearance reaches its 密级 AND they hold the view permission on its fonds (superusers:
every fonds, still up to their clearance); an item in a volume only when its volume is seen too
(before, the oracle left the volume out, so an open item in a 绝密 volume passed for public and
search's leak of it to staff cleared below the volume went unseen). Whatever names a record (a
request, a loan, a move, a stocktake line, a search hit, an export row, a label) follows the
record. Store-room climate (sensors, alarms) is for keepers and administrators.

The oracle (``sees_record`` and friends below) is written out here, independently of the code.

The doors are not listed by hand: every URL pattern of the project is walked (``all_routes``),
its path parameters filled with the ids and codes of hidden and visible objects, and asked with
GET by every persona; each query parameter the view reads is then sent again with values that
widen the answer (``q``, ``size``, ``format=csv/xlsx/pdf``, ``fonds``, ``state`` …). Bodies are
read as text: HTML, JSON, CSV, XLSX (openpyxl) and PDF (pdftotext). Every record carries a
unique ASCII marker in its title and code, so a leak is a substring. A route added to the
project without being swept fails ``test_every_route_is_swept`` (skip list below, with reasons).
The websockets are swept in a second test.

Bounded: every persona asks every door at least once (14 × 227 = 3,178 pairs); a persona the
route's role gate refuses (401/403/405, sent to sign in, or 404 on every object it may see) is
not asked the route's hidden objects again; of the hidden records, one per cause is asked
(``RecordOracle.why_hidden``); an identical (persona, url) is asked once; DRF's ``?format=`` is
widened only with formats the view renders. About 5,600 requests (7,900 before); the counts are
printed on every run.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import shutil
import subprocess
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field

import openpyxl
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from accounts.choices import Classification, Role
from accounts.models import ReaderProfile, User
from accounts.permissions import grant, role_group
from borrowing import services as borrowing
from borrowing.models import DigitalGrant
from devices.models import Sensor, SensorSource
from repository import boxes, stocktake
from repository import services as repository
from repository.choices import AccessStatus
from repository.models import (
    Category,
    DigitalPage,
    Fonds,
    Item,
    Position,
    ShelvingUnit,
    StoreRoom,
    Volume,
)
from search.backends import get_backend
from search.sync import reindex
from storage_env.choices import AlarmRule, AlarmState, Severity
from storage_env.models import Alarm, Reading
from storage_env.services import push_alarm
from tests.gates import missing
from tests.security.test_fuzz_routes import ADMIN_PREFIX, Route, all_routes, recording_reads

pytestmark = pytest.mark.django_db

S = Classification
STAFF = {Role.FRONT_DESK, Role.APPROVER, Role.ARCHIVIST, Role.KEEPER, Role.ADMINISTRATOR}
BORROWING_STAFF = {Role.FRONT_DESK, Role.APPROVER, Role.KEEPER, Role.ADMINISTRATOR}
CLIMATE = {Role.KEEPER, Role.ADMINISTRATOR}


@dataclass(frozen=True)
class Persona:
    roles: tuple[str, ...] = ()
    clearance: int = S.NONE
    fonds: tuple[str, ...] = ()  # fonds on which the user holds view_fonds_records
    change: tuple[str, ...] = ()  # ... and change_fonds_records
    superuser: bool = False
    active: bool = True
    signed_in: bool = True


# The 14 personas. Fonds "A" and "B"; levels 0 非密, 1 秘密, 2 机密, 3 绝密.
PERSONAS: dict[str, Persona] = {
    "anonymous": Persona(signed_in=False),
    "researcher": Persona((Role.RESEARCHER,)),  # the requester of the public request
    "researcher_other": Persona((Role.RESEARCHER,)),  # a researcher, not the requester
    "front_desk": Persona((Role.FRONT_DESK,), S.SECRET, ("A",)),
    "approver_a": Persona((Role.APPROVER,), S.CONFIDENTIAL, ("A",)),  # one fonds only
    "approver_all": Persona((Role.APPROVER,), S.CONFIDENTIAL, ("A", "B")),
    "archivist_secret": Persona((Role.ARCHIVIST,), S.SECRET, ("A", "B"), ("A", "B")),
    "archivist_conf": Persona((Role.ARCHIVIST,), S.CONFIDENTIAL, ("B",), ("B",)),
    "keeper_nofonds": Persona((Role.KEEPER,), S.TOP_SECRET),  # cleared, no fonds permission
    "keeper_ab": Persona((Role.KEEPER,), S.CONFIDENTIAL, ("A", "B")),
    "it_admin": Persona((Role.ADMINISTRATOR,)),  # runs the system, sees no classified record
    "superuser": Persona((), S.CONFIDENTIAL, superuser=True),  # every fonds, up to 机密
    "inactive": Persona((Role.KEEPER,), S.TOP_SECRET, ("A", "B"), active=False),
    "no_role": Persona((), S.TOP_SECRET, ("A", "B")),  # signed in, permission, no role
}
# Users the world needs that are not swept (they request, approve, hand out).
HELPERS: dict[str, Persona] = {
    "curator": Persona((Role.ARCHIVIST,), S.TOP_SECRET, ("A", "B"), ("A", "B")),
    "helper_approver": Persona((Role.APPROVER,), S.TOP_SECRET, ("A", "B")),
    "helper_approver2": Persona((Role.APPROVER,), S.TOP_SECRET, ("A", "B")),
    "helper_desk": Persona((Role.FRONT_DESK, Role.KEEPER), S.TOP_SECRET, ("A", "B")),
}
FONDS = {"A": "LKA", "B": "LKB"}
ADMIN_LOGIN = f"/{ADMIN_PREFIX}login/"
STATUS = {"O": AccessStatus.OPEN, "C": AccessStatus.CONTROLLED, "U": AccessStatus.UNREVIEWED}


# --- the oracle -----------------------------------------------------------------------------


def live(name: str) -> Persona | None:
    """The persona as the server knows it: anonymous and inactive users are nobody."""
    persona = PERSONAS.get(name) or HELPERS[name]
    return persona if persona.signed_in and persona.active else None


def is_staff(p: Persona) -> bool:
    return p.superuser or bool(set(p.roles) & STAFF)


def has_role(p: Persona | None, roles: set[str]) -> bool:
    return p is not None and (p.superuser or bool(set(p.roles) & roles))


def sees_own(name: str, record) -> bool:
    """The rule on the record's own columns."""
    if record.access_status == AccessStatus.OPEN and record.classification == S.NONE:
        return True
    p = live(name)
    if p is None or not is_staff(p):
        return False
    fonds = record.fonds.code[-1]
    return record.classification <= p.clearance and (p.superuser or fonds in p.fonds)


def sees_record(name: str, record) -> bool:
    """An item in a volume is seen only if its volume is seen as well (a volume carries the
    highest 密级 of its items; an open item in a 绝密 volume is as secret as the volume)."""
    volume = getattr(record, "volume", None)
    return sees_own(name, record) and (volume is None or sees_own(name, volume))


@dataclass(frozen=True)
class RecordOracle:
    """``sees_record`` for one record, and why it is hidden from a persona: two records hidden
    for the same reasons (the same rule fails: not open, classified, above the clearance,
    outside the fonds; same kind, in a volume or not) are refused by the same door for the
    same cause, so the sweep asks a persona for one of them (``sweep_route``)."""

    record: object

    def __call__(self, name: str) -> bool:
        return sees_record(name, self.record)

    def why_hidden(self, name: str) -> tuple:
        r = self.record
        volume = getattr(r, "volume", None)
        shape = (type(r).__name__, volume is not None)
        causes = self._causes(r, name)
        return (*shape, *causes, *(self._causes(volume, name) if volume is not None else ()))

    @staticmethod
    def _causes(r, name: str) -> tuple:
        p = live(name)
        public = (r.access_status != AccessStatus.OPEN, r.classification != S.NONE)
        if p is None or not is_staff(p):
            return ("public", *public)
        outside = not p.superuser and r.fonds.code[-1] not in p.fonds
        return ("staff", *public, r.classification > p.clearance, outside)


def sees_climate(name: str) -> bool:
    return has_role(live(name), CLIMATE)


def sees_readers(name: str) -> bool:
    """Reader registrations (name, unit, contact, ID tail): the front desk and administrators."""
    return has_role(live(name), {Role.FRONT_DESK, Role.ADMINISTRATOR})


def sees_devices(name: str) -> bool:
    """The device registry and its sources: administrators (and superusers)."""
    return has_role(live(name), {Role.ADMINISTRATOR})


@dataclass
class Secret:
    """A marker and who may read it."""

    marker: str
    kind: str
    may_see: object  # (persona name) -> bool


@dataclass
class World:
    users: dict[str, User]
    secrets: list[Secret] = field(default_factory=list)
    # family -> [(id or code, oracle(persona) -> may see the object)]
    objects: dict[str, list[tuple[str, object]]] = field(default_factory=lambda: defaultdict(list))
    values: dict[str, list[str]] = field(default_factory=dict)


# --- the world ------------------------------------------------------------------------------


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 80), (240, 230, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def make_users(fonds: dict[str, Fonds]) -> dict[str, User]:
    users = {}
    for name, p in {**PERSONAS, **HELPERS}.items():
        if not p.signed_in:
            continue
        user = User.objects.create_user(
            username=name,
            password="sweep-pass-2026",
            clearance=p.clearance,
            display_name=name,
            is_active=p.active,
            is_superuser=p.superuser,
            is_staff=p.superuser,
        )
        user.groups.set([role_group(role) for role in p.roles])
        for key in p.fonds:
            grant("repository.view_fonds_records", user, fonds[key])
        for key in p.change:
            grant("repository.change_fonds_records", user, fonds[key])
        users[name] = user
    return users


def build_world() -> World:
    fonds = {
        key: Fonds.objects.create(code=code, name=f"全宗{code}") for key, code in FONDS.items()
    }
    category = {
        key: Category.objects.create(fonds=f, code="WS", name="文书") for key, f in fonds.items()
    }
    world = World(users=make_users(fonds))
    users = world.users
    room = StoreRoom.objects.create(code="K91", name="九十一号库")
    unit = ShelvingUnit.objects.create(room=room, code="01", columns=1, sections=1, layers=2)
    shelves = [
        Position.objects.create(
            room=room,
            unit=unit,
            column=1,
            section=1,
            layer=layer,
            code=Position.make_code("K91", "01", "A", 1, 1, layer),
            path=Position.make_path("K91", "01", "A", 1, 1, layer),
            capacity=200,
        )
        for layer in (1, 2)
    ]

    def record(model, key, level, status, n, **extra):
        tag = f"{key}{level}{status}{'V' if model is Volume else 'I'}{n}"
        obj = model.objects.create(
            fonds=fonds[key],
            category=category[key],
            reference_code=f"{FONDS[key]}-WS-2001-{tag}",
            title=f"LEAK{tag}Z 题名",
            creator="LEAKCREATOR" if level == S.TOP_SECRET else "",
            access_status=STATUS[status],
            classification=level,
            position=shelves[0],
            **extra,
        )
        obj.tag = tag
        return obj

    items = {}
    for key in FONDS:
        for level in S.values:
            for status in STATUS:
                items[f"{key}{level}{status}"] = record(Item, key, level, status, 1)
    volumes = {
        f"{key}{level}{status}": record(Volume, key, level, status, 1)
        for key, level, status in (
            ("A", 0, "O"),
            ("A", 1, "C"),
            ("A", 3, "C"),
            ("B", 0, "C"),
            ("B", 2, "C"),
            ("B", 0, "O"),
        )
    }
    # An open item inside a 绝密 volume, and a 机密 item inside an open volume.
    items["A0O-in-A3C"] = record(Item, "A", 0, "O", 2, volume=volumes["A3C"], sequence=1)
    items["B2C-in-B0O"] = record(Item, "B", 2, "C", 2, volume=volumes["B0O"], sequence=1)
    records = [*items.values(), *volumes.values()]
    for obj in records:
        world.secrets.append(
            Secret(obj.title.split()[0], "title", lambda n, r=obj: sees_record(n, r))
        )
        world.secrets.append(Secret(obj.reference_code, "code", lambda n, r=obj: sees_record(n, r)))
    # Path parameters: one record per visibility class (public; open but classified; each
    # fonds at 非密 controlled, 秘密, 机密, 绝密; an item of each kind of volume).
    for key in ("A0O", "A1O", "A1C", "A3C", "B0C", "B2C", "A0O-in-A3C", "B2C-in-B0O"):
        world.objects["item"].append((str(items[key].pk), RecordOracle(items[key])))
    for key in ("B0O", "A3C", "B2C"):
        world.objects["volume"].append((str(volumes[key].pk), RecordOracle(volumes[key])))

    # Partly opened pages: page 2 of an open item withheld; a page of a 秘密 item.
    pages = []
    for owner, number, withheld in (
        (items["A0O"], 1, False),
        (items["A0O"], 2, True),
        (items["B1C"], 1, False),
    ):
        page = DigitalPage(
            item=owner, page_number=number, format="JPEG", width=60, height=80, withheld=withheld
        )
        for name in ("original", "web", "thumbnail"):
            getattr(page, name).save(f"p{number}.jpg", ContentFile(jpeg()), save=False)
        page.save()
        pages.append(page)

        def sees_page(n, pg=page, r=owner):
            if not sees_record(n, r):
                return False
            p = live(n)
            return not pg.withheld or (
                p is not None and is_staff(p) and (p.superuser or "A" in p.fonds)
            )

        world.objects["page"].append((str(page.pk), sees_page))

    # Moves, a box and a closed stocktake that name records of every class.
    curator = users["curator"]
    for obj in (items["A3C"], items["B1C"], items["A0O"], volumes["B2C"]):
        repository.move_record(obj, shelves[1], acting_user=curator, reason=f"LEAKMV{obj.tag}Z")
        world.secrets.append(
            Secret(f"LEAKMV{obj.tag}Z", "move reason", lambda n, r=obj: sees_record(n, r))
        )
    box = boxes.create_box(
        acting_user=curator, code="K91-BOX-1", fonds=fonds["B"], position=shelves[1]
    )
    boxes.put_in_box([items["B2C"], items["B0O"]], box, acting_user=curator, reason="box")
    take = stocktake.open_stocktake(room, acting_user=users["helper_desk"])
    for code in (
        shelves[1].code,
        items["A3C"].reference_code,
        items["B1C"].reference_code,
        items["A0O"].reference_code,
    ):
        stocktake.record_scan(take, code, acting_user=users["helper_desk"], position=shelves[1])
    stocktake.close_stocktake(take, acting_user=users["helper_desk"])
    open_take = stocktake.open_stocktake(room, acting_user=users["helper_desk"], unit=unit)
    stocktake.record_scan(
        open_take,
        items["A2C"].reference_code,
        acting_user=users["helper_desk"],
        position=shelves[0],
    )

    # Requests and loans: a researcher's public request, staff requests of each class.
    today = timezone.localdate()

    def ask(who, names, n):
        identity = {}
        if not users[who].is_archive_staff:
            identity = {
                "id_document_type": "resident_id",
                "id_number": "11010519491231002X",  # GB 11643 check digit
                "id_document_expires": dt.date(2040, 1, 1),
            }
        req = borrowing.create_access_request(
            acting_user=users[who],
            records=[items[k] for k in names],
            purpose="research",
            note=f"LEAKREQ{n}Z",
            date_from=today,
            date_to=today + dt.timedelta(days=7),
            **identity,
        )
        named = [items[k] for k in names]

        def may(n_, req=req, named=named):
            p = live(n_)
            own = n_ in users and users[n_].pk == req.requester_id and p is not None
            handles = has_role(p, BORROWING_STAFF) and all(sees_record(n_, r) for r in named)
            return own or handles

        world.secrets.append(Secret(f"LEAKREQ{n}Z", "request notes", may))
        world.objects["access_request"].append((str(req.pk), may))
        for line_pk in req.lines.values_list("pk", flat=True):  # a line follows its request
            world.objects["request_line"].append((str(line_pk), may))
        return req, may

    def approve(req):
        for who in ("helper_approver", "helper_approver2"):
            req.refresh_from_db()
            if req.state in ("approved", "partly_approved"):
                break
            req = borrowing.approve_access_request(req, acting_user=users[who])
        return req

    ask("researcher", ["A0O", "B0O"], 1)
    ask("curator", ["B1C", "B2C"], 2)
    ask("curator", ["A3C"], 3)
    ask("curator", ["A1C", "B1C"], 4)
    req, may = ask("curator", ["B2C", "A0C"], 5)
    req = approve(req)
    borrowing.retrieve_access_request(req, acting_user=users["helper_desk"])
    loans = borrowing.check_out_access_request(
        req, acting_user=users["helper_desk"], due_date=today + dt.timedelta(days=7)
    )
    for loan in loans:
        world.objects["loan"].append((str(loan.pk), may))
    pub, _ = ask("researcher", ["A0O"], 6)
    approve(pub)
    for grant_ in DigitalGrant.objects.all():
        world.objects["digital_grant"].append(
            (
                str(grant_.pk),
                lambda n, g=grant_: n in users and users[n].pk == g.user_id and live(n) is not None,
            )
        )

    # Climate: a sensor, readings and an alarm in the room; keepers and administrators only.
    sensor = Sensor.objects.create(sensor_id="LEAKSENSOR1Z", room=room)
    now = timezone.now()
    Reading.objects.bulk_create(
        Reading(
            sensor=sensor,
            room=room,
            ts=now - dt.timedelta(minutes=5 * k),
            temperature=18.5,
            humidity=47.0,
        )
        for k in range(6)
    )
    alarm = Alarm.objects.create(
        rule=AlarmRule.DEVICE,
        subject="sensor:LEAKSENSOR1Z",
        room=room,
        sensor=sensor,
        severity=Severity.MAJOR,
        state=AlarmState.RAISED,
        message="LEAKALARM1Z",
        raised_at=now,
    )
    world.secrets.append(Secret("LEAKSENSOR1Z", "sensor", sees_climate))
    world.secrets.append(Secret("LEAKALARM1Z", "alarm", sees_climate))
    world.objects["alarm"].append((str(alarm.pk), sees_climate))
    world.objects["sensor"].append((str(sensor.pk), sees_climate))
    # A sensor source (数据源: MQTT topics and mapping): administrators only.
    source = SensorSource.objects.create(name="LEAKSOURCE1Z", topic_filters="leak/LEAKTOPIC1Z/#")
    world.secrets.append(Secret("LEAKSOURCE1Z", "sensor source", sees_devices))
    world.secrets.append(Secret("LEAKTOPIC1Z", "sensor source topic", sees_devices))
    world.objects["source"].append((str(source.pk), sees_devices))
    # A walk-in reader's registration (利用者登记): the desk and administrators only.
    walk_in = User.objects.create_user("leak_walk_in", password="x")
    reader = ReaderProfile.objects.create(
        user=walk_in,
        real_name="LEAKREADER1Z",
        unit_name="LEAKUNIT1Z",
        id_number_last4="0000",
        id_number_digest="leak-sweep-digest",
    )
    world.secrets.append(Secret("LEAKREADER1Z", "reader name", sees_readers))
    world.secrets.append(Secret("LEAKUNIT1Z", "reader unit", sees_readers))
    world.objects["reader"].append((str(reader.pk), sees_readers))

    # Search: the database backend, indexed from the catalogue.
    get_backend().setup()
    reindex()

    plain = {
        "room": [str(room.pk)],
        "unit": [str(unit.pk)],
        "position": [str(shelves[1].pk)],
        "box": [str(box.pk)],
        "stocktake": [str(take.pk), str(open_take.pk)],
    }
    plain["fonds"] = [str(f.pk) for f in fonds.values()]
    for family, ids in plain.items():
        world.objects[family] = [(pk, lambda n: True) for pk in ids]
    world.values = {
        "fonds_code": [f.code for f in fonds.values()],
        "room_code": [room.code],
        "category": ["WS"],
        "fmt": ["csv", "xlsx"],
        "variant": ["thumb", "web"],
        "fonds_ids": [str(f.pk) for f in fonds.values()],
        "room_ids": [str(room.pk)],
        "year": [str(today.year)],
        "number": ["1"],
        # Printed forms (repository/printing.py): each form name of the print routes.
        "form": [
            "stamps",
            "item_list",
            "volume_list",
            "full_index",
            "volume_spine",
            "contents",
            "note",
            "cover",
            "spine",
        ],
    }
    return world


# --- reading a response ---------------------------------------------------------------------


def pdf_text(content: bytes) -> str:
    if not shutil.which("pdftotext"):
        missing("pdftotext (Debian's poppler-utils) is not installed")
    out = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"],
        input=content,
        capture_output=True,
        check=True,
    )
    return out.stdout.decode()


def xlsx_text(content: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return "\n".join(
        "\t".join(str(cell) for cell in row if cell is not None)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
    )


def body_text(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    kind = response.get("Content-Type", "")
    if content.startswith(b"%PDF"):
        return pdf_text(content)
    if content.startswith(b"PK") and (
        "spreadsheet" in kind or zipfile.is_zipfile(io.BytesIO(content))
    ):
        return xlsx_text(content)
    if kind.startswith("image/"):
        return ""
    # Disposition headers and redirects name things too.
    head = " ".join(f"{k}: {v}" for k, v in response.items())
    return head + "\n" + content.decode("utf-8", errors="replace")


# --- the routes -----------------------------------------------------------------------------

# Routes that cannot carry data, with why; any other route must be swept (see below).
NOT_SWEPT: dict[str, str] = {
    "javascript-catalog": "the static translation catalogue (no data)",
    "set_language": "POST-only language switch; redirects",
    "logout": "ends the session (would sign the persona out mid-sweep)",
    "api-docs": "Swagger UI shell (static HTML, no data)",
    "schema": "the OpenAPI schema, generated from code (no data; 12 s a request)",
}

# Which family an integer ``pk`` names, by the path segment just before it (first match wins).
PK_FAMILIES = [
    ("dead-letter", "plain"),
    ("discovered", "plain"),
    ("sources", "source"),
    ("sensor", "sensor"),
    ("alarm", "alarm"),
    ("notification", "plain"),
    ("stocktake", "stocktake"),
    ("shelving-unit", "unit"),
    ("position", "position"),
    ("box", "box"),
    ("climate", "room"),
    ("locations/rooms", "room"),
    ("pages", "page"),
    ("copies", "digital_grant"),
    ("loan", "loan"),
    ("request", "access_request"),
    ("lines", "request_line"),
    ("volume", "volume"),
    ("item", "item"),
    ("catalogue", "item"),
    ("review", "item"),
    ("moves", "plain"),
    ("rooms", "room"),
    ("fonds", "fonds"),
    ("readers", "reader"),
]

# Leaks found by the sweep and not fixed yet, by door prefix → where the fix belongs. Printed on
# every run, not failed; remove an entry once fixed (a leak at any other door fails).
KNOWN_LEAKS: dict[str, str] = {}


def family_of(prefix: str) -> str:
    """The family of the parameter after ``prefix`` (the route's literal text before it)."""
    segments = [s for s in prefix.split("/") if s]
    for segment in reversed(segments[-2:]):
        for word, family in PK_FAMILIES:
            if word in segment:
                return family
    return "plain"


# Query values that widen an answer, for each parameter a view reads.
def query_values(world: World) -> dict[str, list[str]]:
    v = world.values
    return {
        "q": ["LEAK", "-LEAK", '-"LEAK"'],  # a word; exclusions only (refused by search)
        "size": ["500"],
        "page_size": ["500"],
        "format": ["csv", "xlsx", "pdf"],
        "fonds": v["fonds_ids"][:1],
        "room": v["room_ids"],
        "state": ["submitted", "approved", "checked_out", "closed"],
        "kind": ["volume"],
        "year": v["year"],
        "code": ["LK", "K91"],
    }


@dataclass
class Sweep:
    requests: int = 0
    doors: set = field(default_factory=set)
    leaks: list = field(default_factory=list)  # (persona, door, what)
    errors: list = field(default_factory=list)
    swept_routes: set = field(default_factory=set)
    asked: dict = field(default_factory=dict)  # (persona, url) -> refusal
    formats: dict = field(default_factory=dict)  # API url -> the ?format= values it renders
    per_door: dict = field(default_factory=lambda: defaultdict(int))  # door -> requests
    gated: int = 0  # hidden fillings not asked: the route's role gate refused the persona
    same_cause: int = 0  # hidden fillings not asked: hidden for the same cause as one asked
    seconds: dict = field(default_factory=lambda: defaultdict(float))


def route_urls(route: Route, world: World) -> list[tuple[str, str, object]]:
    """(url, label, oracle or None) for a route: each path parameter filled in turn."""
    params = [p for p in route.parts if not isinstance(p, str)]
    names = {p[1] for p in params}
    text = f"/{route.template} {route.name}".lower()

    def build(values):
        return "/" + "".join(p if isinstance(p, str) else values[p[1]] for p in route.parts)

    if not params:
        return [(build({}), "", None)]
    fills: list[tuple[dict, str, object]] = []
    if "kind" in names and "pk" in names:
        for kind in ("item", "volume"):
            for pk, oracle in world.objects[kind]:
                fills.append(({"kind": kind, "pk": pk}, f"{kind} {pk}", oracle))
    elif "kind" in names:
        fills = [({"kind": k}, k, None) for k in ("item", "volume")]
    else:
        choices: dict[str, list[tuple[str, object]]] = {}
        prefix = ""
        for part in route.parts:
            if isinstance(part, str):
                prefix += part
                continue
            kind, name = part
            if (
                name in ("pk", "id", "object_id", "user_id", "group_id", "page_id")
                or kind == "int"
                and name != "number"
            ):
                choices[name] = list(world.objects.get(family_of(prefix), [])) or [("1", None)]
            elif name == "code":
                choices[name] = [
                    (c, None)
                    for c in world.values["fonds_code" if "fonds" in text else "room_code"]
                ]
            elif name in world.values:
                choices[name] = [(c, None) for c in world.values[name]]
            elif name == "action":
                choices[name] = [("approve", None)]
            else:
                choices[name] = [("x", None)]
        first = {name: options[0][0] for name, options in choices.items()}
        for name, options in choices.items():
            for value, oracle in options:
                fills.append(({**first, name: value}, f"{name}={value}", oracle))
    return [(build(values), label, oracle) for values, label, oracle in fills]


def ask(
    sweep: Sweep, world: World, persona: str, client: Client, door: str, url: str, oracle
) -> tuple[str, set[str]]:
    """GET ``url`` as ``persona``; records leaks and 5xx. Answers how the door refused
    (``refusal``: "" when it answered) and the query names the view read (none when it
    refused: a refusal is not widened). A (persona, url) already asked is not asked again."""
    if (persona, url) in sweep.asked:
        return sweep.asked[(persona, url)], set()
    sweep.requests += 1
    if sweep.requests % 50 == 0:
        cache.clear()  # throttles: the sweep is not an attack
    began = time.perf_counter()
    with recording_reads() as read:
        response = client.get(url)
    sweep.doors.add((persona, door))
    sweep.seconds[door] += time.perf_counter() - began
    sweep.per_door[door] += 1
    status = response.status_code
    if status >= 500:
        sweep.errors.append((persona, url, status))
        sweep.asked[(persona, url)] = "error"
        return "error", set()
    no = refusal(response)
    sweep.asked[(persona, url)] = no
    view = (getattr(response, "renderer_context", None) or {}).get("view")
    if view is not None:  # DRF answers 404 to a ?format= none of the view's renderers has
        sweep.formats[url] = {renderer.format for renderer in view.get_renderers()}
    if status >= 300:
        read = set()
    text = body_text(response)
    if oracle is not None and 200 <= status < 300 and not oracle(persona):
        sweep.leaks.append((persona, url, f"answered {status} for a hidden object"))
    for secret in world.secrets:
        if secret.marker in url:  # the persona typed it (a look-up echoes its code)
            continue
        if secret.marker in text and not secret.may_see(persona):
            sweep.leaks.append((persona, url, f"{secret.kind} {secret.marker}"))
    return no, read


def refusal(response) -> str:
    """How the door said no: "gate" (401, 403, 405, or sent to sign in: refused whatever the
    object), "404" (no such object, or one hidden from the persona), "" (it answered)."""
    status = response.status_code
    if status in (401, 403, 405):
        return "gate"
    if status == 404:
        return "404"
    location = response.get("Location", "")
    if 300 <= status < 400 and ("/login/" in location or location.startswith(ADMIN_LOGIN)):
        return "gate"
    return ""


def persona_fills(fills: list, persona: str) -> tuple[list, list]:
    """The fillings of a route split for one persona: those whose object the persona may see
    (or that name no object) first, then those hiding their object from the persona."""
    shown = [f for f in fills if f[2] is None or f[2](persona)]
    return shown, [f for f in fills if f not in shown]


def sweep_route(sweep: Sweep, world: World, clients: dict, route: Route, widen: dict) -> None:
    """Every persona through one route. The role gate is checked before the object door: a
    persona refused on every filling it may see (or, when it may see none, refused outright
    with 401/403/405 or sent to sign in on the first) is refused by the route, not by the
    object, and is not asked the route's hidden fillings again. Everything else is asked: the
    hidden objects of a route a persona passes are exactly where a leak would be."""
    door = f"/{route.template}"
    fills = list(dict.fromkeys(route_urls(route, world)))  # identical fillings once
    widened = fills[0][0] if fills and not route.template.startswith(ADMIN_PREFIX) else None
    for persona, client in clients.items():
        shown, hidden = persona_fills(fills, persona)
        causes: set = set()
        for fill in list(hidden):  # one hidden record per cause (``RecordOracle``)
            why = getattr(fill[2], "why_hidden", None)
            if why is not None:
                cause = (fill[1].split("=")[0].split()[0], why(persona))
                if cause in causes:
                    hidden.remove(fill)
                    sweep.same_cause += 1
                causes.add(cause)
        gate_refused = True
        for url, _label, oracle in shown:
            no, read = ask(sweep, world, persona, client, door, url, oracle)
            gate_refused = gate_refused and bool(no)
            if url == widened:  # widen the first filling only; the admin's filters narrow
                for name in sorted(read & set(widen)):
                    values = widen[name]
                    if name == "format" and url in sweep.formats:
                        values = [v for v in values if v in sweep.formats[url]]
                    for value in values:
                        sep = "&" if "?" in url else "?"
                        ask(
                            sweep, world, persona, client, door, f"{url}{sep}{name}={value}", oracle
                        )
        if shown and gate_refused:
            sweep.gated += len(hidden)
            continue
        for n, (url, _label, oracle) in enumerate(hidden):
            no, _read = ask(sweep, world, persona, client, door, url, oracle)
            if not shown and n == 0 and no == "gate":
                sweep.gated += len(hidden) - 1
                break


def table(rows, header) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), "-+-".join("-" * w for w in widths), *map(line, rows)])


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_every_persona_through_every_door(media, settings, caplog):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    caplog.set_level(logging.CRITICAL, logger="django.request")  # thousands of 404s
    started = time.perf_counter()
    world = build_world()
    built = time.perf_counter() - started
    clients = {}
    for name, p in PERSONAS.items():
        client = Client(raise_request_exception=False)
        if p.signed_in:  # the inactive persona holds a session made for its deactivated user
            client.force_login(world.users[name])
        clients[name] = client
    widen = query_values(world)
    sweep = Sweep()
    routes = [r for r in all_routes() if r.name not in NOT_SWEPT]
    for route in routes:
        sweep.swept_routes.add(route.name)
        sweep_route(sweep, world, clients, route, widen)
    elapsed = time.perf_counter() - started
    print(
        f"\nleak sweep: {len(PERSONAS)} personas × {len(routes)} doors (routes) = "
        f"{len(sweep.doors)} persona×door pairs, {sweep.requests} requests "
        f"(not asked: {sweep.gated} hidden fillings behind a refusing role gate, "
        f"{sweep.same_cause} hidden for the same cause as one asked), "
        f"{len(world.secrets)} markers, {elapsed:.1f} s (world {built:.1f} s)"
    )
    slowest = sorted(sweep.seconds.items(), key=lambda kv: -kv[1])[:12]
    print("  slowest doors: " + ", ".join(f"{door} {sec:.1f} s" for door, sec in slowest))
    busiest = sorted(sweep.per_door.items(), key=lambda kv: -kv[1])[:12]
    print("  most asked doors: " + ", ".join(f"{door} {n}" for door, n in busiest))
    known = sorted({leak for leak in sweep.leaks if leak[1].startswith(tuple(KNOWN_LEAKS))})
    for prefix, where in KNOWN_LEAKS.items():
        count = sum(1 for leak in known if leak[1].startswith(prefix))
        print(f"  known leak ({count} hits, not failed): {prefix}: {where}")
    leaks = sorted(set(sweep.leaks) - set(known))
    assert not sweep.errors, "5xx:\n" + table(sweep.errors, ("persona", "url", "status"))
    assert not leaks, f"{len(leaks)} leaks:\n" + table(leaks, ("persona", "door", "leaked"))
    assert len(sweep.doors) == len(PERSONAS) * len(routes), "a persona skipped a door"


# Path parameters the sweep has no value for fall back to "x" or "1" (an unknown object): such
# a door is asked, but with nothing behind it. Every route must be filled for real, except:
UNFILLED_OK = {
    # The Django admin's own object pages: asked with id 1 of whatever model (the admin itself
    # is swept with its lists, search and the record and audit models filled).
    ADMIN_PREFIX: "admin object pages",
    "api/v1/imports/<token>/": "an import job token (jobs are per user; a wrong one is 404)",
    "api/v1/imports/<token>/commit/": "as above, POST only",
    "staff/catalogue/import/<token>/": "as above",
    "staff/catalogue/import/<token>/status/": "as above",
    "staff/catalogue/import/<token>/rejected/": "as above",
    # Signed one-time links: a made-up uid/token is the "link no longer valid" page for everyone.
    "accounts/verify/<uidb64>/<token>/": "an e-mail verification link (signed token)",
    "accounts/password/reset/<uidb64>/<token>/": "a password-reset link (signed token)",
    "api/v1/borrowing/checkin/scans/<scan_id>/undo/": "POST only; a scan id is per user, 404 else",
    # Destruction batches: tombstones are swept by tests/security/test_leak_volumes.py; the sweep
    # asks these doors with an unknown id (every persona: 404).
    "staff/appraisal/destructions/<pk>/": "destruction batch (see test_leak_volumes.py)",
}


def test_every_route_is_swept(db):
    """A route added to the project is swept automatically; this fails when the sweep cannot
    fill one of its path parameters with a real object (teach ``PK_FAMILIES`` or
    ``World.values`` the new parameter) or when the skip list names a route that is gone."""
    world = World(users={})
    for family in (
        "item",
        "volume",
        "page",
        "access_request",
        "request_line",
        "loan",
        "digital_grant",
        "room",
        "unit",
        "position",
        "box",
        "stocktake",
        "alarm",
        "sensor",
        "fonds",
        "source",
        "reader",
    ):
        world.objects[family] = [("1", None)]
    world.values = {
        key: ["v"]
        for key in ("fonds_code", "room_code", "category", "fmt", "variant", "number", "form")
    }
    routes = all_routes()
    names = {route.name for route in routes}
    assert not set(NOT_SWEPT) - names, "skip list names routes that are gone"
    unfilled = []
    for route in routes:
        if route.name in NOT_SWEPT or any(route.template.startswith(k) for k in UNFILLED_OK):
            continue
        prefix = ""
        for part in route.parts:
            if isinstance(part, str):
                prefix += part
                continue
            kind, name = part
            if name in ("kind", "action", "number") or name in world.values:
                continue
            if (
                name == "code"
                or family_of(prefix) != "plain"
                or "dead-letter" in prefix
                or "discovered" in prefix
                or "notification" in prefix
                or "moves" in prefix
            ):
                continue
            unfilled.append(f"/{route.template} ({route.name}): <{name}>")
    assert not unfilled, "routes the sweep cannot fill:\n" + "\n".join(unfilled)


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


async def _connect(user, path):
    from config.asgi import application

    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(_session_cookie)(user)))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _code = await communicator.connect()
    return communicator, connected


@pytest.mark.django_db(transaction=True)
def test_websockets_tell_each_persona_only_what_it_may_see():
    """Every persona on every websocket route: the climate feed (alarm messages, sensor ids)
    reaches keepers and administrators only; notices reach only their user; an unknown path
    is closed."""
    fonds = {key: Fonds.objects.create(code=code, name=code) for key, code in FONDS.items()}
    users = make_users(fonds)
    room = StoreRoom.objects.create(code="K92", name="九十二号库")
    alarm = Alarm.objects.create(
        rule=AlarmRule.DEVICE,
        subject="sensor:LEAKSENSOR2Z",
        room=room,
        severity=Severity.MAJOR,
        state=AlarmState.RAISED,
        message="LEAKALARM2Z",
        raised_at=timezone.now(),
    )

    async def sweep():
        seen: dict[tuple[str, str], str] = {}
        open_ = []
        for name in PERSONAS:
            user = users.get(name)
            for path in ("/ws/climate/", "/ws/notifications/", "/ws/no-such-feed/"):
                communicator, connected = await _connect(user, path)
                seen[(name, path)] = "open" if connected else "refused"
                if connected:
                    open_.append((name, path, communicator))
        await sync_to_async(push_alarm)(alarm, "alarm.raised")
        for name, path, communicator in open_:
            text = ""
            while not await communicator.receive_nothing(timeout=0.2):
                text += str(await communicator.receive_output())
            await communicator.disconnect()
            if "LEAKALARM2Z" in text:
                seen[(name, path)] = "alarm"
        return seen

    seen = async_to_sync(sweep)()
    wrong = []
    for name in PERSONAS:
        climate = seen[(name, "/ws/climate/")]
        expected = "alarm" if sees_climate(name) else "refused"
        if climate != expected:
            wrong.append((name, "/ws/climate/", climate, expected))
        if seen[(name, "/ws/notifications/")] == "alarm":
            wrong.append((name, "/ws/notifications/", "alarm", "nothing"))
        if seen[(name, "/ws/no-such-feed/")] != "refused":
            wrong.append((name, "/ws/no-such-feed/", seen[(name, "/ws/no-such-feed/")], "refused"))
    assert not wrong, table(wrong, ("persona", "websocket", "got", "expected"))
