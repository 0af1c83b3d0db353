"""Template filters shared by the pages: roles in words, role checks for links."""

from __future__ import annotations

from django import template

from accounts.choices import Classification, Role

register = template.Library()


@register.filter
def role_label(code: str) -> str:
    """A role's name in the reader's language (``front_desk`` → 利用接待)."""
    try:
        return str(Role(code).label)
    except ValueError:
        return code


@register.filter
def classification_label(value) -> str:
    """A classification level (0–3) in words."""
    try:
        return str(Classification(int(value)).label)
    except (TypeError, ValueError):
        return str(value)


@register.filter
def has_role(user, roles: str) -> bool:
    """``user|has_role:"archivist,administrator"``: whether to show a link to a page that
    the view guards with the same roles (the view stays the door; this only hides dead links)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.has_role(*[r.strip() for r in roles.split(",")])
