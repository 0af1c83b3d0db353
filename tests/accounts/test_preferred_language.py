"""Pages in the signed-in user's own language (``config.middleware_language``): the profile's
``preferred_language`` on any browser, unless this browser chose one with the language menu;
the same rule as websocket pushes and e-mail (``core.messages.language_of``)."""

from __future__ import annotations

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def lang(response) -> str:
    return response.content.decode().split('<html lang="', 1)[1].split('"', 1)[0]


def test_a_user_who_prefers_english_reads_english_pages(client_for, keeper):
    keeper.preferred_language = "en"
    keeper.save(update_fields=["preferred_language"])
    client = client_for(keeper)
    page = client.get("/staff/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert page.status_code == 200
    assert lang(page) == "en"


def test_the_language_menu_in_this_browser_wins_over_the_profile(client_for, keeper):
    keeper.preferred_language = "en"
    keeper.save(update_fields=["preferred_language"])
    client = client_for(keeper)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    assert lang(client.get("/staff/")) == "zh-hans"


def test_without_a_preference_the_browser_decides(client_for, keeper):
    client = client_for(keeper)
    assert lang(client.get("/staff/", HTTP_ACCEPT_LANGUAGE="en")) == "en"
    assert lang(client.get("/staff/", HTTP_ACCEPT_LANGUAGE="zh-CN")) == "zh-hans"


def test_the_public_is_untouched(client):
    assert lang(client.get("/", HTTP_ACCEPT_LANGUAGE="en")) == "en"
