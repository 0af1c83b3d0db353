"""Full text of scanned pages: Tesseract reads digitised pages into ``search.PageText``.

- A page added (``repository.images.add_digital_page`` calls ``core.hooks.page_added``) gets a
  ``pending`` row in the same transaction: the queue, like the search outbox.
- The ``ocr_pages`` worker (long-running, at lower CPU priority than the web server) claims
  pending rows (``SKIP LOCKED`` on PostgreSQL), runs ``tesseract`` (Debian's ``tesseract-ocr``
  and ``tesseract-ocr-chi-sim``) on the page's original scan, stores the text and its mean word
  confidence, and queues the record's search document (``OutboxEntry.force``: the record's
  version did not change). An image Tesseract cannot read leaves the page ``failed`` with the
  reason; nothing crashes, and the rest goes on.
- Search sees the text of released pages only (``search.documents.page_texts``): never of a
  withheld page (opened in part), and the public only of open records (the record's own rule).
- Staff correct a page's text (``correct_page_text``): audited, re-indexed.
- Without Tesseract the worker says so, and ``/healthz`` (check ``ocr``) too; the rest works.
"""

from __future__ import annotations

import csv
import io
import logging
import shutil
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import record_event
from core.errors import Invalid, NotAllowed
from repository.access import can_change_fonds
from repository.models import DigitalPage
from search.analysis import CJK_RE
from search.models import PageText
from search.outbox import enqueue

log = logging.getLogger(__name__)

LANGUAGES = "chi_sim+eng"
TIMEOUT_SECONDS = 120  # per page
STALE_CLAIM = timedelta(minutes=15)  # a worker that died while reading: the page is taken again
MAX_ATTEMPTS = 3
MAX_TEXT = 100_000  # characters of a page's text (staff corrections are refused beyond)


def tesseract_command() -> str:
    return getattr(settings, "TESSERACT_CMD", "tesseract")


@cache
def _languages(command: str) -> tuple[str, ...]:
    try:
        done = subprocess.run(  # noqa: S603 - a configured program, no shell
            [command, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return ()
    lines = (done.stdout + done.stderr).splitlines()
    return tuple(line.strip() for line in lines[1:] if line.strip() and " " not in line.strip())


def status() -> dict[str, Any]:
    """For /healthz: is Tesseract there with Chinese, and how far behind is the queue."""
    command = tesseract_command()
    path = shutil.which(command)
    languages = _languages(path) if path else ()
    missing = [lang for lang in LANGUAGES.split("+") if lang not in languages]
    counts = {
        s: PageText.objects.filter(status=s).count()
        for s in (PageText.Status.PENDING, PageText.Status.FAILED)
    }
    answer: dict[str, Any] = {
        "ok": bool(path) and not missing,
        "tesseract": path or None,
        "pending": counts[PageText.Status.PENDING],
        "failed": counts[PageText.Status.FAILED],
    }
    if not path:
        answer["error"] = f"tesseract not found ({command}): install tesseract-ocr"
    elif missing:
        answer["error"] = f"tesseract lacks {', '.join(missing)}: install tesseract-ocr-chi-sim"
    return answer


# --- reading ----------------------------------------------------------------------------------
@dataclass
class Reading:
    text: str
    confidence: float | None


class Unreadable(Exception):
    """Tesseract could not read the image (the reason is the message)."""


def _join(words: list[str]) -> str:
    """Words of one line: Chinese characters stand together, other words apart."""
    out = ""
    for word in words:
        if out and not (CJK_RE.match(out[-1]) and CJK_RE.match(word[0])):
            out += " "
        out += word
    return out


def parse_tsv(tsv: str) -> Reading:
    """Tesseract's TSV output → text (one line per line) and the mean word confidence."""
    lines: dict[tuple[str, ...], list[str]] = {}
    confidences = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        try:
            confidence = float(row.get("conf") or -1)
        except ValueError:
            confidence = -1
        if confidence >= 0:
            confidences.append(confidence)
        key = (row["page_num"], row["block_num"], row["par_num"], row["line_num"])
        lines.setdefault(key, []).append(text)
    text = "\n".join(_join(words) for words in lines.values())
    mean = round(sum(confidences) / len(confidences), 1) if confidences else None
    return Reading(text=text, confidence=mean)


RETRY_BELOW = 70.0  # mean confidence under which the page is read again as one block of text


def read_image(path: str) -> Reading:
    """Run Tesseract on an image file (automatic page layout; a poorly read page once more as
    a single block, keeping the more confident reading); ``Unreadable`` with the reason."""
    command = shutil.which(tesseract_command())
    if command is None:
        raise Unreadable(f"tesseract not found ({tesseract_command()})")
    reading = _run(command, path, "3")
    if reading.confidence is None or reading.confidence < RETRY_BELOW:
        block = _run(command, path, "6")
        if (block.confidence or 0) > (reading.confidence or 0):
            reading = block
    return reading


def _run(command: str, path: str, layout: str) -> Reading:
    try:
        done = subprocess.run(  # noqa: S603 - a configured program, a stored file, no shell
            [command, path, "stdout", "-l", LANGUAGES, "--psm", layout, "tsv"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise Unreadable(f"tesseract took longer than {TIMEOUT_SECONDS} s") from exc
    if done.returncode != 0:
        reason = " ".join(done.stderr.split())[-500:] or f"exit status {done.returncode}"
        raise Unreadable(reason)
    return parse_tsv(done.stdout)


# --- the queue --------------------------------------------------------------------------------
def queue_page(page: DigitalPage) -> None:
    """``core.hooks.page_added``: read this page (again)."""
    PageText.objects.update_or_create(
        page=page,
        defaults={"status": PageText.Status.PENDING, "attempts": 0, "error": "", "text": ""},
    )


def page_replaced(page: DigitalPage) -> None:
    """``core.hooks.page_replaced``: a new scan of the page. Its text is read afresh (a staff
    correction belonged to the old image), and the record's document loses the old reading
    now, before the new one is read."""
    PageText.objects.update_or_create(
        page=page,
        defaults={
            "status": PageText.Status.PENDING,
            "attempts": 0,
            "error": "",
            "text": "",
            "confidence": None,
            "claimed_at": None,
            "corrected_by": None,
            "corrected_at": None,
        },
    )
    _reindex(page.record, narrows=True)


def page_removed(record) -> None:
    """``core.hooks.page_removed``: the page (and with it its text) is gone; so is its text
    from the record's document, ahead of ordinary changes."""
    _reindex(record, narrows=True)


def _reindex(record, *, narrows: bool = False) -> None:
    """Queue the record for search: its document changed, its version did not."""
    enqueue(record, force=True, narrows=narrows)


def _claim(batch: int) -> list[int]:
    now = timezone.now()
    with transaction.atomic():
        rows = PageText.objects.filter(status=PageText.Status.PENDING) | PageText.objects.filter(
            status=PageText.Status.RUNNING, claimed_at__lt=now - STALE_CLAIM
        )
        rows = rows.order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        ids = list(rows.values_list("id", flat=True)[:batch])
        PageText.objects.filter(id__in=ids).update(status=PageText.Status.RUNNING, claimed_at=now)
    return ids


@dataclass
class OcrResult:
    read: int = 0
    failed: int = 0


def ocr_once(*, batch: int = 4) -> OcrResult:
    """Read up to ``batch`` waiting pages. Never raises for an unreadable image."""
    result = OcrResult()
    for pk in _claim(batch):
        entry = PageText.objects.select_related("page__volume", "page__item").filter(pk=pk)
        entry = entry.first()
        if entry is None:  # the page was removed meanwhile
            continue
        page = entry.page
        # The same claim when the reading is stored: a page replaced (or removed) while it was
        # being read is queued afresh, and this reading of the old scan is thrown away.
        ours = PageText.objects.filter(pk=pk, claimed_at=entry.claimed_at)
        try:
            reading = read_image(page.original.path)
        except (Unreadable, OSError, ValueError) as exc:
            entry.attempts += 1
            entry.error = str(exc)[:2000] or type(exc).__name__
            retry = entry.attempts < MAX_ATTEMPTS and "not found" in entry.error
            entry.status = PageText.Status.PENDING if retry else PageText.Status.FAILED
            ours.update(
                attempts=entry.attempts,
                error=entry.error,
                status=entry.status,
                updated_at=timezone.now(),
            )
            log.warning("ocr: page %s unreadable: %s", page.pk, entry.error)
            result.failed += 1
            continue
        with transaction.atomic():
            current = ours.select_for_update().first()
            if current is None:  # replaced or removed while it was read
                continue
            if current.corrected_at is not None:  # staff corrected it meanwhile: theirs stays
                current.status = PageText.Status.DONE
                current.save(update_fields=["status", "updated_at"])
                continue
            current.text = reading.text[:MAX_TEXT]
            current.confidence = reading.confidence
            current.status = PageText.Status.DONE
            current.error = ""
            current.attempts += 1
            current.save()
            _reindex(page.record)
        result.read += 1
    return result


# --- staff correction -------------------------------------------------------------------------
def correct_page_text(page: DigitalPage, text: str, *, acting_user) -> PageText:
    """Staff replace a page's text (audited; the record is re-indexed)."""
    record = page.record
    if not can_change_fonds(acting_user, record.fonds):
        raise NotAllowed(_("You may not change the records of this fonds."))
    text = (text or "").replace("\x00", "").strip()
    if len(text) > MAX_TEXT:
        raise Invalid(
            _("The page text is too long (at most %(max)d characters).") % {"max": MAX_TEXT},
            fields={"text": [_("Too long.")]},
        )
    with transaction.atomic():
        entry, _created = PageText.objects.select_for_update().get_or_create(page=page)
        before = {"text": entry.text, "status": entry.status}
        entry.text = text
        entry.status = PageText.Status.DONE
        entry.error = ""
        entry.corrected_by = acting_user
        entry.corrected_at = timezone.now()
        entry.save()
        record_event(
            "search.page_text.corrected",
            acting_user=acting_user,
            obj=record,
            before=before,
            after={"page": page.page_number, "text": text},
        )
        _reindex(page.record)
    return entry
