"""Reading configuration from the environment.

Every setting comes from an environment variable with an embedded default when it is unset.
A secret may also come from a file named by ``<NAME>_FILE`` (Docker/Kubernetes secrets).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def get(name: str, default: str | None = None) -> str | None:
    """Return ``NAME``, else the contents of the file named by ``NAME_FILE``, else the default."""
    value = os.environ.get(name)
    if value is not None:
        return value
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name} cannot be read: {exc}") from exc
    return default


def get_bool(name: str, default: bool = False) -> bool:
    value = get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false)")


def get_int(name: str, default: int) -> int:
    value = get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from exc


def get_list(name: str, default: list[str]) -> list[str]:
    value = get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_email_url(url: str) -> dict[str, object]:
    """Django's EMAIL_* settings from one URL: ``smtp://user:password@host:port`` (plain, or
    STARTTLS with ``?tls``), ``smtps://…`` (TLS from the first byte); ``?timeout=<s>``. User and
    password are percent-decoded (``@`` is ``%40``). Default ports: 25, 587 with ``tls``, 465."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ImproperlyConfigured(
            "EMAIL_URL must look like smtp://user:password@host:587?tls or smtps://host:465"
        )
    query = {key.lower(): value for key, value in parse_qsl(parts.query, keep_blank_values=True)}
    unknown = set(query) - {"tls", "starttls", "ssl", "timeout"}
    if unknown:
        raise ImproperlyConfigured(f"EMAIL_URL: unknown option(s) {', '.join(sorted(unknown))}")
    use_ssl = scheme == "smtps" or query.get("ssl", "false").lower() in TRUE | {""}
    use_tls = not use_ssl and any(
        query.get(key, "false").lower() in TRUE | {""} for key in ("tls", "starttls")
    )
    try:
        port = parts.port or (465 if use_ssl else 587 if use_tls else 25)
        timeout = int(query.get("timeout") or 10)
    except ValueError as exc:
        raise ImproperlyConfigured(f"EMAIL_URL: {exc}") from None
    return {
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
        "EMAIL_TIMEOUT": timeout,
    }
