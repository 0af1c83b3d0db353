"""The one read door: ``.visible_to(user)`` on volumes and items."""

import pytest

from accounts.choices import Classification, Role
from accounts.permissions import grant, role_group
from repository.choices import PUBLIC_STATUSES, AccessStatus
from repository.models import Category, Fonds, Item, Volume


@pytest.fixture
def catalogue(db):
    """Fonds A and B; in each, one item per (access status × classification) of interest."""
    records = {}
    for code in ("A", "B"):
        fonds = Fonds.objects.create(code=f"J{code}", name=f"全宗{code}")
        category = Category.objects.create(fonds=fonds, code="WS", name="文书")
        for status in AccessStatus:
            for level in Classification:
                key = (code, status.value, level.value)
                records[key] = Item.objects.create(
                    fonds=fonds,
                    category=category,
                    reference_code=f"J{code}-WS·2019-Y-{status.value}-{level.value}",
                    title=f"{code} {status.label} {level.label}",
                    access_status=status,
                    classification=level,
                )
        records[(code, "fonds")] = fonds
    return records


def visible(user, model=Item):
    return {r.reference_code for r in model.objects.visible_to(user)}


def public_codes(catalogue):
    return {
        r.reference_code
        for key, r in catalogue.items()
        if len(key) == 3 and key[1] in PUBLIC_STATUSES and key[2] == Classification.NONE
    }


@pytest.mark.parametrize("persona", ["public", "researcher", "outsider"])
def test_non_staff_see_only_open_unclassified(personas, catalogue, persona):
    assert visible(personas[persona]) == public_codes(catalogue)


def test_staff_without_fonds_permission_see_only_what_the_public_sees(personas, catalogue):
    assert visible(personas["keeper"]) == public_codes(catalogue)


def test_archivist_sees_fonds_a_up_to_clearance(personas, catalogue):
    grant("repository.view_fonds_records", role_group(Role.ARCHIVIST), catalogue[("A", "fonds")])
    seen = visible(personas["archivist_a"])
    expected = public_codes(catalogue) | {
        r.reference_code
        for key, r in catalogue.items()
        if len(key) == 3 and key[0] == "A" and key[2] <= Classification.SECRET
    }
    assert seen == expected
    assert "JA-WS·2019-Y-open-2" not in seen  # 机密 is above an archivist cleared to 秘密
    assert "JB-WS·2019-Y-controlled-0" not in seen  # fonds B is not theirs


def test_direct_user_permission_counts(personas, catalogue):
    grant("repository.view_fonds_records", personas["approver_secret"], catalogue[("B", "fonds")])
    seen = visible(personas["approver_secret"])
    assert "JB-WS·2019-Y-unreviewed-2" in seen
    assert "JB-WS·2019-Y-unreviewed-3" not in seen
    assert "JA-WS·2019-Y-unreviewed-0" not in seen


def test_volumes_use_the_same_door(personas, catalogue):
    fonds = catalogue[("A", "fonds")]
    category = fonds.categories.get()
    Volume.objects.create(
        fonds=fonds, category=category, reference_code="JA-WS-V1", title="卷", classification=1
    )
    assert visible(personas["public"], Volume) == set()
    grant("repository.view_fonds_records", role_group(Role.ARCHIVIST), fonds)
    assert visible(personas["archivist_a"], Volume) == {"JA-WS-V1"}


def test_visibility_is_one_query_per_list(personas, catalogue, django_assert_max_num_queries):
    grant("repository.view_fonds_records", role_group(Role.ARCHIVIST), catalogue[("A", "fonds")])
    user = personas["archivist_a"]
    with django_assert_max_num_queries(4):  # roles, user + group permissions, then the list
        list(Item.objects.visible_to(user))
    with django_assert_max_num_queries(1):
        list(Item.objects.visible_to(user))
