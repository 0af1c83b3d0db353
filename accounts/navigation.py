"""Staff navigation per role. Each app registers its entries in its ``AppConfig.ready()``."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    roles: frozenset[str] = field(default_factory=frozenset)  # empty: every staff member
    order: int = 100


_ITEMS: list[NavItem] = []


def register(item: NavItem) -> None:
    if item not in _ITEMS:
        _ITEMS.append(item)
        _ITEMS.sort(key=lambda i: i.order)


def items_for(user) -> list[dict[str, str]]:
    """The entries this user may use, resolved to URLs."""
    visible = []
    for item in _ITEMS:
        if item.roles and not user.has_role(*item.roles):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        visible.append({"label": str(item.label), "url": url, "name": item.url_name})
    return visible
