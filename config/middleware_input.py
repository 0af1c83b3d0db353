"""Refuse unreadable input once, at the edge, before any view sees it.

Every request's path, query string (names and values), form fields (names and values, urlencoded
or multipart) and cookies are read here. A request is answered 400 with a reason, in the
person's language, when any of them

- is not valid UTF-8 after percent-decoding (``%ED%A0%80``, a lone surrogate, is not);
- contains NUL, a control character other than tab, newline and carriage return, or DEL;
- has a query value longer than ``QUERY_VALUE_MAX_LENGTH`` or a form value longer than
  ``TEXT_MAX_LENGTH`` characters;
- is a form body Django cannot parse (a broken multipart body, too many fields or files).

A body larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``UPLOAD_MAX_BYTES`` for multipart uploads)
is answered 413 from its Content-Length, before it is read. The API's JSON bodies are checked by
its parsers (``core.input.BoundedJSONParser``): the same rules, string by string.

Before this, a NUL in a query parameter reached PostgreSQL ("A string literal cannot contain
NUL") on more than 20 routes and answered 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _

from core.input import InvalidInput, bad_character, check_text, walk_strings

FORM_URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


class RequestTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class InputValidationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with translation.override(translation.get_language_from_request(request)):
            try:
                check_request(request)
            except InvalidInput as exc:
                return refusal(request, exc.message, status=400)
            except RequestTooLarge as exc:
                message = _("The request is too large (at most %(size)s).") % {
                    "size": _size(exc.limit)
                }
                return refusal(request, message, status=413)
        return self.get_response(request)


def check_request(request: HttpRequest) -> None:
    _check_length(request)
    _check_text(_decoded(_raw_path(request)), _("The address"))
    max_value = int(settings.QUERY_VALUE_MAX_LENGTH)
    _check_pairs(_raw_query(request), max_value)
    # Only the cookies we read: other sites on the domain may set cookies of any shape.
    for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
        _check_text(request.COOKIES.get(name, ""), _("The cookie “%(name)s”") % {"name": name})
    if request.content_type == FORM_URLENCODED:
        try:
            body = request.body
        except RequestDataTooBig:
            raise RequestTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) from None
        except (UnreadablePostError, OSError):
            raise InvalidInput(_("The form data could not be read.")) from None
        _check_pairs(body, int(settings.TEXT_MAX_LENGTH))
    elif request.content_type == MULTIPART and request.method == "POST":
        try:
            fields = request.POST
        except RequestDataTooBig:
            raise RequestTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) from None
        except (MultiPartParserError, SuspiciousOperation, UnreadablePostError, OSError):
            raise InvalidInput(_("The form data could not be read.")) from None
        max_length = int(settings.TEXT_MAX_LENGTH)
        for name, value in walk_strings(fields):
            if bad_character(name) or bad_character(value) or len(value) > max_length:
                _check_text(name, _("A field name"))
                check_text(value, field=_label(name), max_length=max_length)


def _check_length(request: HttpRequest) -> None:
    raw = request.META.get("CONTENT_LENGTH") or "0"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 15):
        raise InvalidInput(_("The Content-Length header is not a number."))
    if request.content_type == MULTIPART:
        limit = settings.UPLOAD_MAX_BYTES
    else:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and int(raw) > limit:
        raise RequestTooLarge(limit)


def _check_text(text: str, field: str, max_length: int | None = None) -> None:
    check_text(text, field=field, max_length=max_length)


def _check_pairs(raw: bytes, max_value: int) -> None:
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    for count, (name_bytes, value_bytes) in enumerate(_pairs(raw), start=1):
        if limit is not None and count > limit:
            raise InvalidInput(_("Too many parameters (at most %(max)d).") % {"max": limit})
        try:  # the common case, without building messages
            name, value = name_bytes.decode("utf-8"), value_bytes.decode("utf-8")
            if not (bad_character(name) or bad_character(value) or len(value) > max_value):
                continue
        except UnicodeDecodeError:
            pass
        name = _decoded(name_bytes, _("A parameter name"))
        _check_text(name, _("A parameter name"))
        field = _label(name)
        value = _decoded(value_bytes, field)
        _check_text(value, field, max_value)


def _pairs(raw: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Name/value pairs of a query string or urlencoded body, percent-decoded, still bytes."""
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _sep, value = part.partition(b"=")
        yield (
            unquote_to_bytes(name.replace(b"+", b" ")),
            unquote_to_bytes(value.replace(b"+", b" ")),
        )


def _decoded(raw: bytes, field: str = "") -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            _("%(field)s is not valid UTF-8 text.") % {"field": field or _("The address")}
        ) from None


def _label(name: str) -> str:
    return _("The parameter “%(name)s”") % {"name": name[:40]}


def _raw_path(request: HttpRequest) -> bytes:
    """The path as bytes after percent-decoding, before any decoding to text."""
    scope = getattr(request, "scope", None)
    if scope is not None:  # ASGI: the server keeps the path as it came
        raw = scope.get("raw_path")
        if isinstance(raw, bytes) and raw:
            return unquote_to_bytes(raw.split(b"?", 1)[0])
        return str(scope.get("path", "")).encode("utf-8", errors="surrogatepass")
    # WSGI (and the test client): PATH_INFO holds the decoded bytes as latin-1 (PEP 3333).
    return _wsgi_bytes(request.META.get("PATH_INFO", ""))


def _raw_query(request: HttpRequest) -> bytes:
    scope = getattr(request, "scope", None)
    if scope is not None and isinstance(scope.get("query_string"), bytes):
        return scope["query_string"]
    return _wsgi_bytes(request.META.get("QUERY_STRING", ""))


def _wsgi_bytes(text: str) -> bytes:
    """A WSGI environ string back to the bytes it carries (latin-1, PEP 3333)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:  # not a WSGI string: text already decoded
        return text.encode("utf-8", errors="surrogatepass")


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    return f"{limit / 1024:g} KB"


def refusal(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    """The API's error shape under ``/api/``, the 400 page elsewhere."""
    if request.path_info.startswith("/api/"):
        body: dict = {"detail": message}
        if status == 400:  # invalid input: the reason per field, as the API's 400s give it
            body["errors"] = {"non_field_errors": [message]}
        return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    return render(request, "errors/400.html", {"message": message, "status": status}, status=status)
