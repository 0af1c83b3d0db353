"""The persona leak test for search: every persona, every search door (page, staff page,
type-ahead, API), every backend. Results, totals, facets, highlights and suggestions may only
ever show what ``Item/Volume.objects.visible_to(persona)`` shows.

The catalogue holds an open, unclassified item inside a controlled 秘密 volume of fonds A, and
front_desk (cleared to 非密) holds the view permission on fonds A: the door hides the item from
front_desk for its volume's sake, and search did not (its document knew only the item's own
密级): front_desk found its title and code on the staff page, the API and type-ahead."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.choices import Classification, Role
from accounts.models import User
from accounts.permissions import grant, role_group
from repository.choices import AccessStatus
from repository.models import Category, Item, Volume
from search.outbox import enqueue
from search.query import FACETS, SearchInputError, SearchRequest, Visibility
from tests.search.conftest import sync

STAFF_PERSONAS = {"front_desk", "keeper", "archivist_a", "approver_secret", "admin"}
# The item in the 秘密 volume (``granted``): its title and code.
IN_SECRET_VOLUME = ("卷内测绘成果登记表", "J012-WS·2014-Y-BGS-0101")
# Words that occur in hidden records' titles, creators or codes.
PROBES = [
    "档案",
    "合同",
    "移交",
    "机密",
    "秘密",
    "保密办",
    "征集",
    "J012-WS",
    "J013-WS",
    "2016",
    "测绘成果",  # of the item in the 秘密 volume: a word of its title, the start of its code
    "J012-WS·2014",
]
# Queries of exclusions only: refused (400) by every search door, suggesting nothing; before,
# every backend dropped the minus and listed everything the caller may see.
EXCLUSIONS_ONLY = ["-档案", "-合同 -机密", "-J012-WS", "-2016", '-"档案"', "-“机密会议” -合同"]


@pytest.fixture
def granted(indexed, personas, backend):
    """archivist_a: fonds A through the archivist role; approver_secret: fonds B directly;
    front_desk (非密): fonds A directly. Fonds A gains a controlled 秘密 volume holding an open,
    unclassified item (indexed like every record, through the outbox)."""
    fonds = indexed["fonds"]["A"]
    grant("repository.view_fonds_records", role_group(Role.ARCHIVIST), fonds)
    grant("repository.view_fonds_records", personas["approver_secret"], indexed["fonds"]["B"])
    grant("repository.view_fonds_records", personas["front_desk"], fonds)
    common = dict(fonds=fonds, category=indexed["categories"][("A", "WS")], filing_year=2014)
    volume = Volume.objects.create(
        reference_code="J012-WS·2014-Y-BGS-V02",
        title="2014年文书案卷（秘密）",
        access_status=AccessStatus.CONTROLLED,
        classification=Classification.SECRET,
        **common,
    )
    title, code = IN_SECRET_VOLUME
    item = Item.objects.create(
        reference_code=code,
        title=title,
        date_start=dt.date(2014, 6, 1),
        access_status=AccessStatus.OPEN,
        classification=Classification.NONE,
        volume=volume,
        sequence=1,
        **common,
    )
    enqueue(volume)
    enqueue(item)
    sync(backend)
    return indexed | {"secret_volume": volume, "in_secret_volume": item}


def allowed_codes(user) -> set[str]:
    codes = set()
    for model in (Item, Volume):
        codes |= set(model.objects.visible_to(user).values_list("reference_code", flat=True))
    return codes


def hidden_texts(user) -> set[str]:
    """Titles and codes of records this user may not see."""
    allowed = allowed_codes(user)
    texts = set()
    for model in (Item, Volume):
        for code, title in model.objects.values_list("reference_code", "title"):
            if code not in allowed:
                texts |= {code, title}
    return texts


@pytest.mark.parametrize(
    "persona",
    ["public", "researcher", "outsider", "front_desk", "keeper", "archivist_a", "approver_secret"],
)
def test_backend_results_counts_facets_match_visible_to(backend, granted, personas, persona):
    user = personas[persona]
    allowed = allowed_codes(user)
    visibility = Visibility.for_user(user)
    everything = backend.search(SearchRequest(size=100, facets=FACETS), visibility)
    assert {h.doc["reference_code"] for h in everything.hits} == allowed
    assert everything.total == len(allowed)
    for facet, buckets in everything.facets.items():
        if facet != "year":  # records without a year are in no year bucket
            assert sum(b.count for b in buckets) == len(allowed), facet
    for probe in PROBES:
        result = backend.search(SearchRequest(query=probe, size=100, facets=FACETS), visibility)
        found = {h.doc["reference_code"] for h in result.hits}
        assert found <= allowed, (persona, probe, found - allowed)
        assert result.total == len(found)
        for buckets in result.facets.values():
            assert sum(b.count for b in buckets) <= result.total
        suggested = {s.reference_code for s in backend.suggest(probe, visibility, size=50)}
        assert suggested <= allowed, (persona, probe, suggested - allowed)
    for probe in EXCLUSIONS_ONLY:
        with pytest.raises(SearchInputError):
            backend.search(SearchRequest(query=probe, size=100, facets=FACETS), visibility)
        assert backend.suggest(probe, visibility, size=50) == [], (persona, probe)


def test_expected_visibility_shape(granted, personas):
    """Guard the fixture itself: the personas really see different things."""
    sizes = {
        p: len(allowed_codes(personas[p]))
        for p in ("public", "front_desk", "archivist_a", "approver_secret")
    }
    assert sizes["public"] == 7
    assert sizes["front_desk"] == 8  # + controlled 非密 of fonds A, not the 秘密 volume's item
    assert sizes["archivist_a"] == 11  # + controlled and 秘密 of fonds A, the volume and its item
    assert sizes["approver_secret"] == 8  # + controlled of fonds B
    item = granted["in_secret_volume"]
    assert not Item.objects.visible_to(personas["front_desk"]).filter(pk=item.pk).exists()
    assert Item.objects.visible_to(personas["archivist_a"]).filter(pk=item.pk).exists()


@pytest.mark.parametrize("persona", sorted({"public", "researcher", "outsider"} | STAFF_PERSONAS))
def test_every_door_shows_nothing_hidden(backend, granted, personas, client_for, persona):
    user = personas[persona]
    client = client_for(user)
    hidden = hidden_texts(user)
    is_staff = persona in STAFF_PERSONAS
    for probe in PROBES:
        bodies = [
            client.get("/search/", {"q": probe}).content.decode(),
            client.get("/search/suggest/", {"q": probe}).content.decode(),
            client.get(
                "/api/v1/search/", {"q": probe, "facets": ",".join(FACETS)}
            ).content.decode(),
            client.get("/api/v1/search/suggest/", {"q": probe}).content.decode(),
        ]
        if is_staff:
            bodies.append(client.get("/staff/search/", {"q": probe}).content.decode())
            bodies.append(client.get("/staff/search/suggest/", {"q": probe}).content.decode())
        # The public page and its type-ahead show the open catalogue to everyone, staff
        # included; the API and the staff page show what the caller may see.
        public_hidden = hidden_texts(None)
        for index, body in enumerate(bodies):
            forbidden = public_hidden if index < 2 else hidden
            # API responses escape non-ASCII only when asked; compare on both forms
            leaked = {
                t for t in forbidden if t in body or t.encode("unicode_escape").decode() in body
            }
            assert not leaked, (persona, probe, index, leaked)


@pytest.mark.parametrize("persona", sorted({"public", "researcher", "outsider"} | STAFF_PERSONAS))
def test_exclusions_only_are_refused_at_every_door(backend, granted, personas, client_for, persona):
    user = personas[persona]
    client = client_for(user)
    hidden = hidden_texts(user)
    pages = ["/search/", "/staff/search/"] if persona in STAFF_PERSONAS else ["/search/"]
    for probe in EXCLUSIONS_ONLY:
        answers = [client.get(page, {"q": probe}) for page in pages]
        api = client.get("/api/v1/search/", {"q": probe, "facets": ",".join(FACETS)})
        assert api.status_code == 400 and list(api.json()["errors"]) == ["q"], (persona, probe)
        for page in answers:
            assert page.status_code == 400 and 'class="search-hit"' not in page.content.decode()
        for door in ("/search/suggest/", "/api/v1/search/suggest/"):
            suggest = client.get(door, {"q": probe})
            assert suggest.status_code == 200 and suggest.json()["suggestions"] == [], door
        for response in [*answers, api]:
            body = response.content.decode()
            leaked = {t for t in hidden if t in body or t.encode("unicode_escape").decode() in body}
            assert not leaked, (persona, probe, leaked)


def test_api_totals_and_facets_per_persona(backend, granted, personas, client_for):
    for persona in ("public", "researcher", "archivist_a", "approver_secret"):
        user = personas[persona]
        data = client_for(user).get("/api/v1/search/", {"facets": "access_status,fonds"}).json()
        assert data["total"] == len(allowed_codes(user))
        assert sum(b["count"] for b in data["facets"]["access_status"]) == data["total"]


@pytest.mark.parametrize(("persona", "sees"), [("front_desk", False), ("archivist_a", True)])
def test_an_item_in_a_classified_volume_follows_the_volume_through_search(
    backend, granted, personas, client_for, persona, sees
):
    """An open 非密 item in a 秘密 volume, searched for by its title and its code by staff
    with the fonds permission: cleared below the volume's 密级 (front_desk, 非密), no page, API
    answer, total, facet or type-ahead shows it; cleared to it (archivist_a, 秘密), all do."""
    user = personas[persona]
    client = client_for(user)
    item = granted["in_secret_volume"]
    assert Item.objects.visible_to(user).filter(pk=item.pk).exists() is sees  # the door
    visibility = Visibility.for_user(user)
    for typed in (item.title, item.reference_code, "测绘成果"):
        found = backend.search(SearchRequest(query=typed, facets=FACETS), visibility)
        assert (item.reference_code in {h.doc["reference_code"] for h in found.hits}) is sees
        assert found.total == int(sees), (typed, found.total)
        for name, buckets in found.facets.items():
            assert sum(b.count for b in buckets) == int(sees), (typed, name)
        page = client.get("/staff/search/", {"q": typed}).content.decode()
        api = client.get("/api/v1/search/", {"q": typed, "facets": ",".join(FACETS)}).json()
        shown = item.title if typed == item.reference_code else item.reference_code  # not echoed
        assert (shown in page) is sees, typed
        assert [h["reference_code"] for h in api["results"]] == [item.reference_code] * sees
        assert api["total"] == int(sees)
        assert all(sum(b["count"] for b in v) == int(sees) for v in api["facets"].values())
    for prefix in (item.title[:4], item.reference_code[:18]):
        suggested = {s.reference_code for s in backend.suggest(prefix, visibility)}
        assert (item.reference_code in suggested) is sees, prefix
        for door in ("/staff/search/suggest/", "/api/v1/search/suggest/"):
            body = client.get(door, {"q": prefix}).json()["suggestions"]
            assert (item.reference_code in {s["reference_code"] for s in body}) is sees, door
    # the public page shows the open catalogue to everyone: never this item
    for typed, shown in ((item.title, item.reference_code), (item.reference_code, item.title)):
        assert shown not in client.get("/search/", {"q": typed}).content.decode()


@pytest.fixture
def volume_grid(catalogue, backend):
    """Volumes of fonds A and B, open or controlled, 非密 to 机密; in each, items of each status
    and 密级 — of the volume's fonds and (as no service allows, but a bulk update could) of the
    other one — and loose items alike; every record titled 网格 and indexed."""
    fonds = catalogue["fonds"]
    category = {
        key: Category.objects.get_or_create(fonds=f, code="WS")[0] for key, f in fonds.items()
    }
    shapes = [("open", 0), ("controlled", 0), ("controlled", 1), ("controlled", 2)]
    made = []

    def make(model, key, status, level, n, **extra):
        record = model.objects.create(
            fonds=fonds[key],
            category=category[key],
            reference_code=f"GRID-{model.__name__[0]}{n:03d}",
            title=f"网格记录{n:03d}",
            access_status=status,
            classification=level,
            filing_year=2000,
            **extra,
        )
        made.append(record)
        return record

    n = 0
    for v_key in ("A", "B"):
        for v_status, v_level in shapes:
            n += 1
            volume = make(Volume, v_key, v_status, v_level, n)
            for i_key in ("A", "B"):
                for i_status, i_level in shapes:
                    n += 1
                    make(Item, i_key, i_status, i_level, n, volume=volume)
    for key in ("A", "B"):
        for status, level in shapes:
            n += 1
            make(Item, key, status, level, n)
    for record in made:
        enqueue(record)
    sync(backend)
    return made


def make_staff(name, clearance, fonds, *, superuser=False):
    user = User.objects.create_user(
        username=name, password="x", clearance=clearance, is_superuser=superuser
    )
    user.groups.set([role_group(Role.KEEPER)])
    for f in fonds:
        grant("repository.view_fonds_records", user, f)
    return user


def test_search_is_the_door_for_every_clearance_and_fonds(backend, volume_grid, catalogue):
    """Every clearance × every set of fonds permissions (and a superuser at each clearance):
    search finds exactly the grid records ``visible_to`` lets through, on its own and with
    words, in results, totals, facets and type-ahead."""
    fonds = catalogue["fonds"]
    users = [None]
    for level in Classification.values:
        for keys in ((), ("A",), ("B",), ("A", "B")):
            users.append(make_staff(f"s{level}{''.join(keys)}", level, [fonds[k] for k in keys]))
        users.append(make_staff(f"root{level}", level, [], superuser=True))
    grid = {r.reference_code for r in volume_grid}
    for user in users:
        door = allowed_codes(user) & grid
        visibility = Visibility.for_user(user)
        for typed in ("网格记录", "GRID"):
            result = backend.search(SearchRequest(query=typed, size=100, facets=FACETS), visibility)
            found = {h.doc["reference_code"] for h in result.hits}
            assert found == door, (user and user.username, typed, found ^ door)
            assert result.total == len(door)
            assert sum(b.count for b in result.facets["fonds"]) == len(door)
        suggested = {s.reference_code for s in backend.suggest("GRID", visibility, size=100)}
        assert suggested <= door and (bool(suggested) or not door)
        for doc in (
            h.doc
            for h in backend.search(
                SearchRequest(query="GRID", size=100),
                Visibility(public_only=False, fonds_ids=None, clearance=3),
            ).hits
        ):
            assert visibility.allows(doc) is (doc["reference_code"] in door), doc["reference_code"]
