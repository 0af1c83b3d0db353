"""The persona leak test for search: every persona, every search door (page, staff page,
type-ahead, API), every backend. Results, totals, facets, highlights and suggestions may only
ever show what ``Item/Volume.objects.visible_to(persona)`` shows."""

from __future__ import annotations

import pytest

from accounts.choices import Role
from accounts.permissions import grant, role_group
from repository.models import Item, Volume
from search.query import FACETS, SearchInputError, SearchRequest, Visibility

STAFF_PERSONAS = {"front_desk", "keeper", "archivist_a", "approver_secret", "admin"}
# Words that occur in hidden records' titles, creators or codes.
PROBES = ["档案", "合同", "移交", "机密", "秘密", "保密办", "征集", "J012-WS", "J013-WS", "2016"]
# Queries of exclusions only: refused (400) by every search door, suggesting nothing; before,
# every backend dropped the minus and listed everything the caller may see.
EXCLUSIONS_ONLY = ["-档案", "-合同 -机密", "-J012-WS", "-2016"]


@pytest.fixture
def granted(indexed, personas):
    """archivist_a: fonds A through the archivist role; approver_secret: fonds B directly."""
    grant("repository.view_fonds_records", role_group(Role.ARCHIVIST), indexed["fonds"]["A"])
    grant("repository.view_fonds_records", personas["approver_secret"], indexed["fonds"]["B"])
    return indexed


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
        p: len(allowed_codes(personas[p])) for p in ("public", "archivist_a", "approver_secret")
    }
    assert sizes["public"] == 7
    assert sizes["archivist_a"] == 9  # + controlled and 秘密 of fonds A
    assert sizes["approver_secret"] == 8  # + controlled of fonds B


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
