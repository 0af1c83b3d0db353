"""Input at the edge: clean text, strict whole numbers and bounded sizes.

Used once for every request by ``config/middleware_input.py`` (path, query string, form fields,
cookies) and by the API's parsers (``BoundedJSONParser`` and friends: every string in a JSON or
form body), and by views that read a number from a query string (``parse_int``).

A refusal is ``InvalidInput``, a ``BadRequest``: Django answers 400 for pages (``handler400``
shows its message) and ``core.api.exception_handler`` maps it to the API's 400 shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ValidationError

# C0 controls except tab, newline and carriage return; DEL; C1 controls; lone surrogates
# (a str holds them only when something decoded with ``surrogateescape``/``surrogatepass``).
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# The longest whole number parse_int reads: more digits than any bound we accept.
_MAX_DIGITS = 20
# The largest id a table holds (bigint).
ID_MAX = 2**63 - 1


class InvalidInput(BadRequest):
    """A request the system will not read; ``str(exc)`` is the message for the person."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def text_max_length() -> int:
    return int(settings.TEXT_MAX_LENGTH)


def bad_character(text: str) -> str | None:
    """The first character a text must not contain (NUL, controls, lone surrogates), or None."""
    match = _BAD_CHARS.search(text)
    return match.group() if match else None


def describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def check_text(text: str, *, field: str = "", max_length: int | None = None) -> None:
    """Refuse a text with a forbidden character or longer than ``max_length`` characters."""
    char = bad_character(text)
    if char is not None:
        raise InvalidInput(
            _("%(field)s contains a character that is not allowed (%(char)s).")
            % {"field": field or _("The request"), "char": describe(char)},
            field=field,
        )
    if max_length is not None and len(text) > max_length:
        raise InvalidInput(
            _("%(field)s is too long (at most %(max)d characters).")
            % {"field": field or _("A value"), "max": max_length},
            field=field,
        )


def parse_int(
    value: Any,
    *,
    min_value: int,
    max_value: int,
    default: int | None = None,
    field: str = "",
) -> int | None:
    """A whole number from a query string: ASCII digits only (an optional leading "-" when
    ``min_value`` is negative), at most 20 of them, within ``[min_value, max_value]``.

    Empty or missing gives ``default``; anything else raises ``InvalidInput``. ``int()`` alone
    reads other scripts' digits ("٣"), underscores, spaces and thousands of digits, and
    ``str.isdigit()`` says yes to "²", which ``int()`` then refuses: both made 500s.
    """
    if value is None:
        return default
    text = str(value)
    if text == "":
        return default
    digits = text[1:] if text.startswith("-") and min_value < 0 else text
    if not (0 < len(digits) <= _MAX_DIGITS and digits.isascii() and digits.isdigit()):
        message = (
            _("“%(field)s” must be a whole number.") % {"field": field}
            if field
            else _("Must be a whole number.")
        )
        raise InvalidInput(message, field=field)
    number = int(text)
    if not min_value <= number <= max_value:
        bounds = {"field": field, "min": min_value, "max": max_value}
        message = (
            _("“%(field)s” must be between %(min)d and %(max)d.") % bounds
            if field
            else _("Must be between %(min)d and %(max)d.") % bounds
        )
        raise InvalidInput(message, field=field)
    return number


def walk_strings(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (path, string) in parsed request data: keys and values, nested."""
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                yield name, key
            yield from walk_strings(value, name)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from walk_strings(value, f"{path}[{index}]")
    elif hasattr(data, "lists"):  # QueryDict / MultiValueDict
        for key, values in data.lists():
            yield key, key
            for value in values:
                if isinstance(value, str):
                    yield key, value


class _BoundedMixin:
    """Every string in the parsed body (keys and values, nested, JSON fields included) is free
    of NUL, control characters and lone surrogates, and at most ``TEXT_MAX_LENGTH`` characters:
    a 400 naming the field, before any serializer sees it. Serializers and model fields keep
    their own, shorter limits; this one bounds every text field, ``TextField`` included."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        # MultiPartParser returns DataAndFiles; the others return the data itself.
        fields = data.data if isinstance(data, parsers.DataAndFiles) else data
        limit = text_max_length()
        for path, text in walk_strings(fields):
            char = bad_character(text)
            if char is not None:
                message = _("Contains a character that is not allowed (%(char)s).") % {
                    "char": describe(char)
                }
            elif len(text) > limit:
                message = _("Too long: at most %(max)d characters (%(count)d given).") % {
                    "max": limit,
                    "count": len(text),
                }
            else:
                continue
            raise ValidationError({path or "non_field_errors": [message]})
        return data


class BoundedJSONParser(_BoundedMixin, parsers.JSONParser):
    pass


class BoundedFormParser(_BoundedMixin, parsers.FormParser):
    pass


class BoundedMultiPartParser(_BoundedMixin, parsers.MultiPartParser):
    pass
