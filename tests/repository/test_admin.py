"""Reference data through the admin: pattern validation, positions for new units."""

import pytest
from django.urls import reverse

from accounts.models import User
from repository.models import Category, Fonds, Position
from tests.repository.conftest import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    user = User.objects.create_superuser("root", "root@example.org", "x-pass-2026", clearance=3)
    client.force_login(user)
    return client


def test_fonds_pattern_is_validated(superuser_client):
    url = reverse("admin:repository_fonds_add")
    data = {
        "code": "J077",
        "name": "测试全宗",
        "description": "",
        "code_pattern": '{"item": "{fonds}-{nonsense}-{item:4}"}',
        "categories-TOTAL_FORMS": "0",
        "categories-INITIAL_FORMS": "0",
    }
    response = superuser_client.post(url, data)
    assert response.status_code == 200 and not Fonds.objects.filter(code="J077").exists()
    data["code_pattern"] = '{"item": "{fonds}-{category}-{year}-{item:4}"}'
    response = superuser_client.post(url, data)
    assert response.status_code == 302 and Fonds.objects.filter(code="J077").exists()


def test_new_unit_gets_every_position(superuser_client, room):
    response = superuser_client.post(
        reverse("admin:repository_shelvingunit_add"),
        {
            "room": room.pk,
            "code": "07",
            "name": "7号密集架",
            "kind": "mobile",
            "columns": 3,
            "sections": 2,
            "layers": 4,
            "sides": 2,
            "position_capacity": 30,
        },
    )
    assert response.status_code == 302
    assert Position.objects.filter(unit__code="07").count() == 3 * 2 * 4 * 2


def test_a_fonds_holding_records_is_not_deleted_nor_its_records_listed(client, ws):
    """Records leave the archive only by appraisal and destruction (档案法 §21): the admin
    offers no delete for a fonds that holds records, and so never draws the confirmation that
    listed every protected record (绝密 ones too) to a superuser cleared to 机密."""
    user = User.objects.create_superuser("root", "root@example.org", "x-pass-2026", clearance=2)
    client.force_login(user)
    top = make_item(ws, 7, classification=3, title="TOPSECRETTITLE")
    fonds = ws.fonds
    response = client.get(reverse("admin:repository_fonds_delete", args=[fonds.pk]))
    assert response.status_code == 403
    assert top.reference_code not in response.content.decode()
    response = client.post(
        reverse("admin:repository_fonds_changelist"),
        {"action": "delete_selected", "_selected_action": [fonds.pk]},
    )
    assert top.reference_code not in response.content.decode()
    assert Fonds.objects.filter(pk=fonds.pk).exists()
    # Deleting the category through the inline: refused without naming the records.
    data = {
        "code": fonds.code,
        "name": fonds.name,
        "description": "",
        "code_pattern": "{}",
        "categories-TOTAL_FORMS": "1",
        "categories-INITIAL_FORMS": "1",
        "categories-0-id": ws.pk,
        "categories-0-fonds": fonds.pk,
        "categories-0-code": ws.code,
        "categories-0-name": ws.name,
        "categories-0-opening_age_years": "",
        "categories-0-DELETE": "on",
    }
    response = client.post(reverse("admin:repository_fonds_change", args=[fonds.pk]), data)
    body = response.content.decode()
    assert response.status_code == 200 and Category.objects.filter(pk=ws.pk).exists()
    assert top.reference_code not in body and "TOPSECRETTITLE" not in body
    # An empty fonds (created by mistake) can still be deleted.
    empty = Fonds.objects.create(code="J555", name="空全宗")
    response = client.get(reverse("admin:repository_fonds_delete", args=[empty.pk]))
    assert response.status_code == 200
