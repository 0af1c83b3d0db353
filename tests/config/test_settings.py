"""Settings come from the environment; production refuses to start without a secret."""

import os
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    clean.pop("SECRET_KEY_FILE", None)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_secret_key_refuses_with_one_line():
    result = run_manage("check", env={"DEBUG": "false"})
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY" in lines[0]


def test_secret_key_file_is_read(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("file-secret-" + "x" * 50 + "\n")
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        env={"DEBUG": "false", "SECRET_KEY_FILE": str(secret), "ALLOWED_HOSTS": "example.org"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "file-secret-" + "x" * 50


def test_deploy_check_passes_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DEBUG": "false",
            "SECRET_KEY": "prod-" + "k9Zq2" * 12,
            "ALLOWED_HOSTS": "archive.example.org",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_bad_boolean_is_a_clear_error():
    result = run_manage("check", env={"DEBUG": "perhaps"})
    assert result.returncode != 0
    assert "DEBUG='perhaps' is not a boolean" in result.stderr


def test_time_is_stored_in_utc_and_shown_in_archive_zone(settings):
    assert settings.USE_TZ is True
    assert os.environ.get("TIME_ZONE", "Asia/Shanghai") == settings.TIME_ZONE
    assert settings.LANGUAGE_CODE == "zh-hans"


def test_no_missing_migrations(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_production_collectstatic_succeeds(tmp_path):
    """Manifest storage follows every url()/sourceMappingURL in vendored files: all must exist."""
    result = run_manage(
        "collectstatic",
        "--noinput",
        "-v",
        "0",
        env={
            "DEBUG": "false",
            "SECRET_KEY": "prod-" + "k9Zq2" * 12,
            "ALLOWED_HOSTS": "archive.example.org",
            "STATIC_ROOT": str(tmp_path / "static"),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()


POOL_PROBE = (
    "from django.db import connection; connection.ensure_connection(); "
    "from django.conf import settings; "
    "print(connection.pool is not None, settings.DATABASES['default']['CONN_MAX_AGE'])"
)


def test_postgresql_connections_come_from_a_pool():
    """Under ASGI each request runs in a fresh thread: without a shared pool every request
    opened a new PostgreSQL connection. DATABASE_POOL_SIZE=0 turns the pool off."""
    from tests.gates import require_postgresql

    require_postgresql()
    from django.conf import settings

    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {"DEBUG": "true", "DATABASE_URL": url}
    result = run_manage("shell", "--no-imports", "-c", POOL_PROBE, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "0"]
    result = run_manage(
        "shell", "--no-imports", "-c", POOL_PROBE, env={**env, "DATABASE_POOL_SIZE": "0"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "60"]


def test_asgi_runs_the_middleware_chain_synchronously():
    """Our views and middleware are synchronous; an async chain cost a thread hop per
    middleware and direction (10–15 ms a request on two cores)."""
    import asyncio

    from config.asgi import django_asgi_app

    assert not asyncio.iscoroutinefunction(django_asgi_app._middleware_chain)


def test_a_page_is_served_through_the_asgi_application(transactional_db):
    import httpx
    from asgiref.sync import async_to_sync

    from config.asgi import application

    async def get():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.get("/catalogue/")

    response = async_to_sync(get)()
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
