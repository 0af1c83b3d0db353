"""One error contract for domain refusals (Zulip's ``JsonableError`` is the model).

Services refuse an action by raising one of these, with a message for the person who tried it;
they never name an HTTP status. The doors map them once: the API in ``config.api``
(``exception_handler``), the pages in ``config.middleware_errors``.

- ``Invalid``: the input cannot be acted on (optionally per field: ``fields``).
- ``NotAllowed``: the person may not do this (also a Django ``PermissionDenied``).
- ``NotFound``: nothing the person may see goes by that name (also a Django ``Http404``).
- ``Conflict``: the state does not allow it (a double click, someone else was quicker).

An app's own refusals subclass these (``borrowing.services.BorrowingError``, ``IllegalTransition``,
``storage_env.services.AlarmTransitionError``), so code that catches the app's class keeps working.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404


class DomainError(Exception):
    """A refused action. Changes nothing; ``messages`` are for people, ``code`` for programs."""

    def __init__(self, message="", code: str | None = None, params=None, *, fields=None) -> None:
        # Positional ``code`` and ``params`` keep the signature of Django's ValidationError, so an
        # app's class may derive from both (its ``ValidationError.__init__`` calls this one).
        super().__init__(message)
        self.message = message
        self.code = code
        self.params = params
        self.fields: dict[str, list[str]] = {
            name: [str(m) for m in (msgs if isinstance(msgs, list | tuple) else [msgs])]
            for name, msgs in (fields or {}).items()
        }

    @property
    def messages(self) -> list[str]:
        if self.message:
            return [str(self.message)]
        return [m for msgs in self.fields.values() for m in msgs]

    def __str__(self) -> str:
        return " ".join(self.messages)


class Invalid(DomainError):
    """The input cannot be acted on; ``fields`` maps a field name to its messages."""


class NotAllowed(DomainError, PermissionDenied):
    """The person may not do this."""


class NotFound(DomainError, Http404):
    """Nothing the person may see goes by that name."""


class Conflict(DomainError):
    """The state does not allow it (already done, or changed meanwhile)."""


# The one table from refusal to HTTP status, most specific first (an app's class may be both
# an ``Invalid`` and a ``Conflict``: the narrower meaning wins). Read by the two doors and by the
# check-in scan log, which keeps the answer of a scan for its replay.
STATUS_OF: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (NotAllowed, 403),
    (Conflict, 409),
    (Invalid, 400),
    (DomainError, 400),
)


def status_of(exc: DomainError) -> int:
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status
    return 400  # pragma: no cover - DomainError is the last row


def field_errors(exc: DomainError) -> dict[str, list[str]]:
    """Per-field messages: ``fields``, or a Django ValidationError's ``message_dict``."""
    if exc.fields:
        return exc.fields
    if hasattr(exc, "error_dict"):
        return exc.message_dict  # type: ignore[attr-defined]
    return {}


def error_body(exc: DomainError) -> dict:
    """The API's body of a refusal: ``{"detail", "code"?, "errors"?}``."""
    body: dict = {"detail": " ".join(str(m) for m in exc.messages)}
    if exc.code:
        body["code"] = exc.code
    errors = field_errors(exc)
    if errors:
        body["errors"] = errors
    return body


def refusal_redirect(back: Callable[..., str]):
    """Name the page a refused POST goes back to when the request has no same-site Referer
    (``back(request, **view_kwargs)`` returns its URL): for action URLs that only take POST.
    Read by ``config.middleware_errors``; put it outermost."""

    def decorate(view):
        view.refusal_redirect = back
        return view

    return decorate
