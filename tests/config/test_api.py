from pathlib import Path

import pytest
import yaml
from django.test import Client
from django.utils import translation
from drf_spectacular.generators import SchemaGenerator

from accounts.models import AuditLog
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def test_api_needs_authentication(db):
    response = Client().get("/api/v1/me/")
    assert response.status_code in (401, 403)
    assert "detail" in response.json()


def test_me_for_a_persona(client_for, approver_secret):
    body = client_for(approver_secret).get("/api/v1/me/").json()
    assert body["username"] == "approver_secret"
    assert body["roles"] == ["approver"]
    assert body["clearance"] == 2


def test_bad_json_is_a_400_with_a_reason(client_for, researcher):
    response = client_for(researcher).patch(
        "/api/v1/me/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_invalid_fields_are_a_400_with_field_errors(client_for, researcher):
    response = client_for(researcher).patch(
        "/api/v1/me/",
        data={"email": "not-an-email", "preferred_language": "klingon"},
        content_type="application/json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"email", "preferred_language"}
    researcher.refresh_from_db()
    assert researcher.email == ""


def test_read_only_fields_cannot_be_raised(client_for, researcher):
    response = client_for(researcher).patch(
        "/api/v1/me/", data={"clearance": 3}, content_type="application/json"
    )
    assert response.status_code == 200
    researcher.refresh_from_db()
    assert researcher.clearance == 0


def test_profile_change_is_audited(client_for, researcher):
    response = client_for(researcher).patch(
        "/api/v1/me/", data={"display_name": "赵研究员"}, content_type="application/json"
    )
    assert response.status_code == 200
    row = AuditLog.objects.get(action="accounts.user.profile_updated")
    assert row.after == {"display_name": "赵研究员"}
    assert row.actor == researcher


def test_token_auth(researcher):
    response = Client().post(
        "/api/v1/auth/token/", {"username": "researcher", "password": PASSWORD}
    )
    assert response.status_code == 200
    token = response.json()["token"]
    me = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.json()["username"] == "researcher"


def test_token_with_wrong_password_is_400(researcher):
    response = Client().post("/api/v1/auth/token/", {"username": "researcher", "password": "x"})
    assert response.status_code == 400
    assert "errors" in response.json()


def test_schema_and_docs_are_served_locally(db):
    assert Client().get("/api/schema/").status_code == 200
    docs = Client().get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn" not in html.lower() and "https://" not in html


@pytest.mark.django_db
def test_committed_openapi_matches_the_code():
    """`make openapi` regenerates openapi.yaml; CI fails when it is stale."""
    with translation.override("en"):
        generated = SchemaGenerator().get_schema(request=None, public=True)
    committed = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    assert committed == yaml.safe_load(yaml.safe_dump(generated)), (
        "openapi.yaml is stale: run `make openapi`"
    )


def test_errors_django_answers_under_the_api_keep_the_api_shape(db):
    """An address no API route matches (``/api/v1/items/abc/``) is refused by Django's URL
    resolver before DRF: still JSON in the documented error shape, not the HTML page; a
    refused input (NUL) carries its reason per field like every API 400."""
    client = Client()
    for url in ("/api/v1/items/abc/", "/api/v1/no-such-thing/"):
        response = client.get(url)
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
        assert set(response.json()) == {"detail"}
    assert Client().get("/catalogue/no-such-thing/")["Content-Type"].startswith("text/html")
    response = client.get("/api/v1/items/?q=%00")
    assert response.status_code == 400
    assert response.json()["errors"]["non_field_errors"] == [response.json()["detail"]]


def test_the_schema_documents_the_error_contract():
    schema = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]
    items = schema["paths"]["/api/v1/items/"]
    assert {"400", "403", "404", "429"} <= set(items["get"]["responses"])
    assert {"409", "413", "415"} <= set(items["post"]["responses"])
    page = items["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert page == {"$ref": "#/components/schemas/RecordPage"}
