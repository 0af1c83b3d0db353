"""Reference data through the admin: pattern validation, positions for new units."""

import pytest
from django.urls import reverse

from accounts.models import User
from repository.models import Fonds, Position

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
