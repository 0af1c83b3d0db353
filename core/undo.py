"""The undo window: a check-in shelving or a stocktake scan can be taken back by whoever made it
for ``settings.UNDO_WINDOW_SECONDS`` (issue 17). One door for both, so they agree on the window."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone


def undo_deadline(done_at: datetime) -> datetime:
    return done_at + timedelta(seconds=settings.UNDO_WINDOW_SECONDS)


def undo_open(done_at: datetime | None) -> bool:
    """True while something done at ``done_at`` may still be undone."""
    return done_at is not None and timezone.now() <= undo_deadline(done_at)
