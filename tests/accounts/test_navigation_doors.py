"""The staff menu and the pages answer to the same named predicates: every entry a persona is
shown opens for them (GET 200), and every menu page that opens for them is shown."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.navigation import registered
from tests.conftest import PERSONAS, make_persona

STAFF_PERSONAS = ["front_desk", "keeper", "archivist_a", "approver_secret", "admin"]


def _shown(client) -> set[str]:
    response = client.get(reverse("staff:home"))
    if response.status_code != 200:
        return set()
    return {item["name"] for item in response.context["staff_nav"]}


def _opens(client) -> set[str]:
    return {
        item.url_name
        for item in registered()
        if client.get(reverse(item.url_name)).status_code == 200
    }


@pytest.mark.parametrize("name", [*STAFF_PERSONAS, "researcher", "outsider", "superuser"])
def test_every_menu_entry_shown_is_a_page_that_opens_and_back(db, client_for, name):
    if name == "superuser":
        user = User.objects.create_superuser("root", password="root-pass-2026")
    else:
        assert name in PERSONAS
        user = make_persona(name)
    client = client_for(user)
    shown, opens = _shown(client), _opens(client)
    public = _opens(client_for(None))  # open to everyone (the API documentation): no menu needed
    assert shown <= opens, f"{name}: shown but not opening {sorted(shown - opens)}"
    missing = opens - public - shown
    assert not missing, f"{name}: opening but not shown {sorted(missing)}"
    if name in STAFF_PERSONAS or name == "superuser":
        assert reverse("staff:home") and "staff:home" in shown
    else:
        assert shown == set()
