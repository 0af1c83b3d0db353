import pytest
from django.test import Client

from search.backends import get_backend


def test_healthz_reports_every_part(db):
    response = Client().get("/healthz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert {"database", "channel_layer", "search"} <= set(body["checks"])
    required = {name: check for name, check in body["checks"].items() if check["required"]}
    assert all(check["ok"] for check in required.values()), required
    # Optional parts (worker heartbeats, backlogs) are reported but do not make it a 503.
    assert all("ok" in check and "ms" in check for check in body["checks"].values())


@pytest.fixture
def unreachable_redis(settings):
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def test_pages_and_api_keep_working_when_redis_is_down(
    unreachable_redis, client_for, researcher, django_capture_on_commit_callbacks
):
    assert Client().get("/").status_code == 200
    assert client_for(researcher).get("/api/v1/me/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(researcher).patch(
            "/api/v1/me/", data={"display_name": "x"}, content_type="application/json"
        )
    assert callbacks, "the profile change should push a live notice after commit"
    assert response.status_code == 200  # the live notice is lost, the change is not
    researcher.refresh_from_db()
    assert researcher.display_name == "x"


def test_healthz_is_503_and_names_the_channel_layer_when_redis_is_down(db, unreachable_redis):
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["channel_layer"]["ok"] is False
    assert "error" in body["checks"]["channel_layer"]
    assert body["checks"]["database"]["ok"] is True


@pytest.fixture
def unreachable_elasticsearch(settings):
    settings.ELASTICSEARCH_URL = "http://127.0.0.1:1"
    get_backend.cache_clear()
    yield
    get_backend.cache_clear()


def test_healthz_names_search_when_elasticsearch_is_down(db, unreachable_elasticsearch):
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["search"]["ok"] is False


def test_pages_keep_working_when_elasticsearch_is_down(db, unreachable_elasticsearch):
    assert Client().get("/").status_code == 200
    assert Client().get("/accounts/login/").status_code == 200


def test_healthz_refuses_post(db):
    assert Client().post("/healthz").status_code == 405
