"""Template filters for the catalogue's codes shown in words (search results carry codes)."""

from __future__ import annotations

from django import template

from repository.choices import AccessStatus

register = template.Library()


@register.filter
def access_status_label(code: str) -> str:
    """开放标识 in the reader's language (``open`` → 开放)."""
    try:
        return str(AccessStatus(code).label)
    except ValueError:
        return code
