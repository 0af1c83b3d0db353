from django.test import Client

from accounts.navigation import items_for


def test_public_home(db):
    response = Client().get("/")
    assert response.status_code == 200
    assert "开放" in response.content.decode()


def test_unknown_url_gives_localised_404_without_a_trace(db):
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "页面不存在" in body
    assert "Traceback" not in body


def test_unknown_url_in_english(db):
    client = Client()
    client.post("/i18n/setlang/", {"language": "en"})
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_staff_home_needs_sign_in(db):
    response = Client().get("/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_staff_home_is_404_for_non_staff(client_for, researcher, outsider):
    assert client_for(researcher).get("/staff/").status_code == 404
    assert client_for(outsider).get("/staff/").status_code == 404


def test_staff_navigation_depends_on_role(client_for, keeper, admin_user):
    keeper_page = client_for(keeper).get("/staff/").content.decode()
    admin_page = client_for(admin_user).get("/staff/").content.decode()
    assert "审计日志" not in keeper_page
    assert "审计日志" in admin_page
    assert {i["name"] for i in items_for(keeper)} < {i["name"] for i in items_for(admin_user)}


def test_audit_log_page_is_for_administrators_only(client_for, keeper, admin_user):
    assert client_for(keeper).get("/accounts/audit/").status_code == 404
    assert client_for(admin_user).get("/accounts/audit/?page=abc").status_code == 200


def test_pages_carry_security_headers_and_no_inline_script(db):
    response = Client().get("/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    body = response.content.decode()
    assert "<script>" not in body and "style=" not in body
    assert "http://" not in body.replace("http://testserver", "")


def test_server_error_page_is_localised_and_shows_no_trace(db, settings):
    settings.ROOT_URLCONF = "tests.config.urls_boom"
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "服务器错误" in body
    assert "secret internal detail" not in body and "Traceback" not in body
