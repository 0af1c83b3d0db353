import pytest
from django.test import Client

from tests.conftest import PASSWORD


def login(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_login_page_is_chinese_by_default(db):
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert "登录" in response.content.decode()


def test_staff_login_lands_on_staff_home(front_desk):
    client = Client()
    response = login(client, "front_desk", PASSWORD)
    assert response.status_code == 302
    response = client.get(response["Location"], follow=True)
    assert response.redirect_chain[-1][0] == "/staff/"


def test_researcher_login_lands_on_public_home(researcher):
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "researcher", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/"


def test_wrong_password_is_refused_with_a_message(front_desk):
    response = login(Client(), "front_desk", "wrong")
    assert response.status_code == 200
    assert "用户名" in response.content.decode() or "密码" in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session


def test_login_is_rate_limited_after_repeated_failures(settings, front_desk):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "front_desk", "wrong")
    # Now even the right password is refused for this username from this address.
    response = login(client, "front_desk", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another user from the same address is not locked out.


def test_logout_is_post_only_and_ends_the_session(front_desk):
    client = Client()
    client.force_login(front_desk)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/staff/").status_code == 302  # back to sign-in


def test_password_change(front_desk):
    client = Client()
    client.force_login(front_desk)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-pass-77",
            "new_password2": "a-brand-new-pass-77",
        },
    )
    assert response.status_code == 302
    front_desk.refresh_from_db()
    assert front_desk.check_password("a-brand-new-pass-77")


def test_password_change_refuses_a_mismatch(front_desk):
    client = Client()
    client.force_login(front_desk)
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "x-pass-long-1", "new_password2": "other"},
    )
    assert response.status_code == 200
    front_desk.refresh_from_db()
    assert front_desk.check_password(PASSWORD)


@pytest.mark.parametrize(("language", "text"), [("en", "Sign in"), ("zh-hans", "登录")])
def test_language_switch(db, language, text):
    client = Client()
    response = client.post("/i18n/setlang/", {"language": language, "next": "/accounts/login/"})
    assert response.status_code == 302
    assert text in client.get("/accounts/login/").content.decode()
