"""Staff navigation per role. Each app registers its entries in its ``AppConfig.ready()``,
each guarded by the same named predicate (``accounts.roles``, ``<app>.roles``) as its page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise

from accounts.roles import RolePredicate


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    # Who sees the entry: a named predicate (``can_…``); ``None``: every staff member. A bare
    # set of role names is still understood (wrapped in a predicate).
    allowed: Callable[..., bool] | frozenset[str] | None = None
    order: int = 100
    # A count shown beside the entry (e.g. 待我审批: requests waiting for this user), or None.
    badge: Callable[..., int] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.allowed, frozenset | set):
            object.__setattr__(self, "allowed", RolePredicate(self.url_name, *self.allowed))


_ITEMS: list[NavItem] = []


def register(item: NavItem) -> None:
    if item not in _ITEMS:
        _ITEMS.append(item)
        _ITEMS.sort(key=lambda i: i.order)


def registered() -> list[NavItem]:
    """Every entry, in menu order (what the navigation test walks)."""
    return list(_ITEMS)


def items_for(user) -> list[dict[str, Any]]:
    """The entries this user may use, resolved to URLs."""
    visible = []
    for item in _ITEMS:
        if callable(item.allowed) and not item.allowed(user):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        entry = {"label": str(item.label), "url": url, "name": item.url_name}
        if item.badge is not None:
            entry["badge"] = item.badge(user)
        visible.append(entry)
    return visible
