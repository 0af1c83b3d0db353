"""Named hooks: how a lower app calls into an app above it without importing it.

Apps depend only downward (STYLE.md "Layout"). Where a lower app must hand work to an upper
one (the device ingest storing readings and raising alarms in ``storage_env``; the catalogue
writing search's outbox), the lower app calls a ``Hook`` declared here and the upper app
registers the implementation in its ``AppConfig.ready()``.

A hook with a ``default`` falls back to it while nothing is registered (an optional consumer:
no search app, no outbox rows); one without raises ``ImproperlyConfigured``, naming the app
that should have registered it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured


class Hook:
    """One named slot for a function an upper app provides."""

    __slots__ = ("name", "provider", "_func", "_default")

    def __init__(self, name: str, *, provider: str, default: Callable[..., Any] | None = None):
        self.name = name
        self.provider = provider
        self._func: Callable[..., Any] | None = None
        self._default = default

    def register(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Install ``func`` (the last registration wins, as a re-run ``ready()`` would)."""
        self._func = func
        return func

    @property
    def registered(self) -> bool:
        return self._func is not None

    @property
    def func(self) -> Callable[..., Any]:
        """The registered function (or the default): callers on a hot path keep this."""
        if self._func is not None:
            return self._func
        if self._default is not None:
            return self._default
        raise ImproperlyConfigured(
            f"no function registered for the hook {self.name!r}: "
            f"is {self.provider!r} in INSTALLED_APPS?"
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Hook {self.name} ({'registered' if self.registered else 'empty'})>"


def _nothing(*args: Any, **kwargs: Any) -> int:
    return 0


# The catalogue's search outbox (core/outbox.py): written by search.outbox.
outbox_enqueue = Hook("outbox.enqueue", provider="search", default=_nothing)
outbox_enqueue_many = Hook("outbox.enqueue_many", provider="search", default=_nothing)

# A digitised page was added (repository/images.py): search queues it for OCR (search.ocr).
page_added = Hook("pages.added", provider="search", default=_nothing)
# ... replaced by a new scan (its text is read again, the old reading leaves the index now) or
# removed (its text leaves the index): search.ocr.
page_replaced = Hook("pages.replaced", provider="search", default=_nothing)
page_removed = Hook("pages.removed", provider="search", default=_nothing)

# The device ingest (devices/ingest.py) hands readings and device alarms to storage_env.
insert_readings = Hook("ingest.insert_readings", provider="storage_env")
forget_reading_staging = Hook(
    "ingest.forget_reading_staging", provider="storage_env", default=_nothing
)
device_alarm = Hook("ingest.device_alarm", provider="storage_env")
push_readings = Hook("ingest.push_readings", provider="storage_env")


class Providers:
    """A slot several upper apps fill, each under its own key (a model label, an app name).

    Where a ``Hook`` has one implementation, a reader in a lower app sometimes needs an answer
    from every app above it (the audit log asks each app which of its objects a viewer may not
    see). Registering the same key again replaces the earlier function, as a re-run ``ready()``
    would. Nothing registered means nothing to ask (the answer of each caller's own default)."""

    __slots__ = ("name", "_funcs")

    def __init__(self, name: str):
        self.name = name
        self._funcs: dict[str, Callable[..., Any]] = {}

    def register(self, key: str, func: Callable[..., Any]) -> Callable[..., Any]:
        self._funcs[key] = func
        return func

    def items(self) -> list[tuple[str, Callable[..., Any]]]:
        return list(self._funcs.items())

    def __repr__(self) -> str:
        return f"<Providers {self.name} ({', '.join(self._funcs) or 'empty'})>"


# The audit log's door (accounts.models.AuditLogQuerySet.visible_to): an audit row about an
# object the viewer may not see is left out, and names of hidden records inside the rows that
# remain are redacted. ``audit_hidden_objects``: "app_label.model" → f(user) returning a queryset
# of that model's objects hidden from ``user`` (only their primary keys are read);
# ``audit_hidden_names``: app → f(user, names: set[str]) returning the subset of ``names`` that
# are codes or titles of objects hidden from ``user``. Registered by repository and borrowing.
audit_hidden_objects = Providers("audit.hidden_objects")
audit_hidden_names = Providers("audit.hidden_names")
