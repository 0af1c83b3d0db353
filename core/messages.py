"""Stored messages in the reader's language: one registry, one ``render``.

A message that is stored (an alarm's text, a live notice) is kept as a *code* and JSON
*parameters*, never as words in the language of the process that wrote it; it is rendered
when it is read, in the reader's language (the request's for pages, the API and exports; the
connection's for websocket pushes: ``render_payload``).

- ``register(code, template)`` names a template: a lazy gettext string with ``%(name)s``
  placeholders (apps register theirs in ``AppConfig.ready()``).
- A parameter is a plain value (a sensor id, a number already formatted, a time) shown as
  given, or itself a message: ``{"code": ..., "params": {...}}`` — the way a translatable
  word (a quantity, a rule's name) is stored — or a list of such, rendered one after another.
- ``render`` never raises: an unknown code, a missing or extra parameter, a nesting too deep
  give the ``fallback`` (the stored text, when there is one), else the code itself.

The result is plain text: templates escape it, ``textContent`` shows it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import trans_real

log = logging.getLogger("lantai.messages")

MAX_DEPTH = 4
# A push payload's key that asks the receiving connection to render fields in its language:
# {"_render": {"message": {"code": ..., "params": ..., "fallback": ...}, ...}}.
RENDER_KEY = "_render"

_templates: dict[str, Any] = {}


class BadMessage(ValueError):
    """The code is unknown or the parameters do not fit its template."""


def register(code: str, template: Any) -> None:
    """Name ``template`` (a lazy gettext string, or plain text for one without words)."""
    _templates[code] = template


def register_choices(prefix: str, choices: Any) -> None:
    """Name each label of a ``TextChoices`` as ``prefix + value`` (a stored choice shown in
    words: a rule's name, a request's state)."""
    for value, label in choices.choices:
        register(prefix + str(value), label)


def ref(code: str, /, **params: Any) -> dict[str, Any]:
    """A message as it is stored: ``{"code": code, "params": params}``."""
    return {"code": code, "params": params}


def supported_language(language: str | None) -> str:
    """``language`` if the site speaks it (or a variant of it), else the archive's language."""
    if language:
        try:
            return trans_real.get_supported_language_variant(language)
        except LookupError:
            pass
    return settings.LANGUAGE_CODE


def _render(code: object, params: Any, depth: int) -> str:
    if depth > MAX_DEPTH:
        raise BadMessage("nested too deep")
    template = _templates.get(code) if isinstance(code, str) else None
    if template is None:
        raise BadMessage(f"unknown message code {code!r}")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise BadMessage("parameters are not an object")
    values = {name: _value(value, depth) for name, value in params.items()}
    try:
        return str(template) % values
    except (KeyError, TypeError, ValueError) as exc:
        raise BadMessage(f"parameters do not fit {code!r}: {exc}") from exc


def _value(value: Any, depth: int) -> Any:
    if isinstance(value, Mapping):
        return _render(value.get("code"), value.get("params"), depth + 1)
    if isinstance(value, list):
        return "".join(str(_value(item, depth + 1)) for item in value)
    if value is None or isinstance(value, (str, int, float)):
        return "" if value is None else value
    raise BadMessage(f"a parameter of type {type(value).__name__}")


def render(code: object, params: Any, language: str | None = None, *, fallback: str = "") -> str:
    """The message ``code`` with ``params`` in ``language`` (default: the active one). Never
    raises: a bad message gives ``fallback``, or the code when there is none."""
    language = supported_language(language or translation.get_language())
    with translation.override(language):
        try:
            return _render(code, params, 0)
        except BadMessage as exc:
            log.warning("message not rendered: %s", exc)
            return fallback or (code if isinstance(code, str) else "")


def render_ref(message: Any, language: str | None = None, *, fallback: str = "") -> str:
    """``render`` for a stored ``{"code", "params"}`` object (as ``ref`` makes it)."""
    if not isinstance(message, Mapping):
        return fallback
    return render(message.get("code"), message.get("params"), language, fallback=fallback)


def render_payload(payload: Any, language: str) -> Any:
    """A push payload for one reader: each field named under ``RENDER_KEY`` is rendered in
    ``language`` (its ``fallback`` when it cannot be); the key itself is dropped."""
    if not isinstance(payload, Mapping) or RENDER_KEY not in payload:
        return payload
    wanted = payload[RENDER_KEY]
    out = {key: value for key, value in payload.items() if key != RENDER_KEY}
    if isinstance(wanted, Mapping):
        for field, message in wanted.items():
            fallback = out.get(field, "")
            if isinstance(message, Mapping) and isinstance(message.get("fallback"), str):
                fallback = message["fallback"]
            out[field] = render_ref(
                message, language, fallback=fallback if isinstance(fallback, str) else ""
            )
    return out


def language_of(preferred: str = "", *, cookie: str = "", accept_language: str = "") -> str:
    """A reader's language, the one rule for pages (``config.middleware_language``) and pushes:
    the language chosen in this browser (the language menu's cookie), else the user's
    preference, else the browser's Accept-Language, else the archive's language."""
    for candidate in (cookie, preferred):
        if candidate:
            try:
                return trans_real.get_supported_language_variant(candidate)
            except LookupError:
                pass
    for accepted, _quality in trans_real.parse_accept_lang_header(accept_language[:500]):
        if accepted == "*":
            break
        try:
            return trans_real.get_supported_language_variant(accepted)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE
