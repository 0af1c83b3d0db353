"""Digitised pages: validation, derivatives and the "仅供查阅" watermark (Pillow).

- The real format is read from the content (not the extension): only JPEG, PNG and TIFF.
  A renamed PDF (or anything else) is refused with a message saying what it is.
- Decompression bombs: the pixel count is checked against ``IMAGE_MAX_PIXELS`` (default 50
  megapixels, also Pillow's own ``MAX_IMAGE_PIXELS``) from the header, before any pixel is
  decoded; then the whole image is decoded once, so a truncated or corrupt file is refused at
  upload (``verify()`` alone passed a truncated JPEG, whose derivative then failed with a 500).
  JPEGs are decoded at a reduced scale (libjpeg's DCT scaling) where the derivatives allow it.
- Metadata (EXIF, GPS, XMP, ICC text) never reaches a derivative: thumbnails and web images are
  fresh JPEGs built from pixels only. The original is kept as uploaded for staff (the archival
  master) and never served to the public.
- The watermark is drawn on the fly on what the public and researchers see.

CJK font for the watermark: Pillow needs a real font file (reportlab's ``STSong-Light`` is a
CID font that only PDF viewers render). We look for a CJK font installed by Debian
(``fonts-noto-cjk``, ``fonts-wqy-zenhei``, ``fonts-wqy-microhei``, ``fonts-arphic-*``) or at
``CJK_FONT_FILE`` (config/fonts.py); when none is present we draw "仅供查阅" from a small built-in
stroke font (``STROKES`` below: four hand-drawn glyphs on a 10×10 grid), so the watermark is
always Chinese and never depends on the machine.
"""

from __future__ import annotations

import io
import warnings
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from accounts.audit import record_event
from core import hooks
from core.fonts import cjk_font_files
from repository.models import DigitalPage, Volume
from repository.services.opening import withheld_pages_of

ACCEPTED = {"JPEG": "jpg", "PNG": "png", "TIFF": "tif"}
WEB_SIZE = 1600
THUMB_SIZE = 240
WATERMARK_TEXT = "仅供查阅"

# Built-in stroke glyphs for 仅供查阅: polylines on a 10×10 grid (x right, y down).
_REN = [[(3.2, 0.3), (0.4, 4.2)], [(2.0, 2.6), (2.0, 10.0)]]  # 亻
STROKES = {
    "仅": _REN + [[(4.3, 1.8), (9.3, 1.8), (5.0, 9.3)], [(5.4, 4.0), (9.7, 9.8)]],
    "供": _REN
    + [
        [(4.0, 3.2), (9.9, 3.2)],
        [(5.6, 0.8), (5.6, 6.6)],
        [(8.4, 0.8), (8.4, 6.6)],
        [(3.6, 6.6), (10.0, 6.6)],
        [(5.6, 7.9), (4.0, 9.9)],
        [(8.4, 7.9), (9.9, 9.9)],
    ],
    "查": [
        [(1.0, 2.4), (9.0, 2.4)],
        [(5.0, 0.3), (5.0, 5.2)],
        [(5.0, 2.4), (1.4, 5.3)],
        [(5.0, 2.4), (8.6, 5.3)],
        [(2.6, 5.6), (7.4, 5.6), (7.4, 8.6), (2.6, 8.6), (2.6, 5.6)],
        [(2.6, 7.1), (7.4, 7.1)],
        [(0.8, 9.8), (9.2, 9.8)],
    ],
    "阅": [
        [(1.4, 0.3), (2.4, 1.3)],
        [(1.4, 2.0), (1.4, 10.0)],
        [(3.4, 1.0), (9.0, 1.0), (9.0, 9.4), (8.0, 10.0)],
        [(4.0, 2.3), (4.8, 3.3)],
        [(7.0, 2.3), (6.2, 3.3)],
        [(4.0, 4.0), (7.0, 4.0), (7.0, 6.0), (4.0, 6.0), (4.0, 4.0)],
        [(5.0, 6.0), (3.6, 9.0)],
        [(6.0, 6.0), (6.0, 8.8), (7.6, 8.8)],
    ],
}


def max_pixels() -> int:
    return int(settings.IMAGE_MAX_PIXELS)


def max_upload_bytes() -> int:
    return int(settings.UPLOAD_MAX_BYTES)


def _what_is(head: bytes) -> str:
    if head.startswith(b"%PDF"):
        return "PDF"
    if head.startswith(b"PK\x03\x04"):
        return "ZIP/Office"
    if head.startswith(b"GIF8"):
        return "GIF"
    return ""


def inspect_image(data: bytes) -> tuple[str, int, int]:
    """Validate an upload; return (format, width, height). Nothing is decoded beyond the header
    until the size is known to be under the pixel cap."""
    if not data:
        raise ValidationError(_("The file is empty."), code="image_empty")
    if len(data) > max_upload_bytes():
        raise ValidationError(
            _("The file is larger than %(max)d MB.") % {"max": max_upload_bytes() // 2**20},
            code="image_too_large",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format
            width, height = image.size
    except (
        UnidentifiedImageError,
        OSError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        ValueError,
    ) as exc:
        kind = _what_is(data[:8])
        if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
            raise ValidationError(
                _("The image has too many pixels (at most %(max)d million).")
                % {"max": max_pixels() // 1_000_000},
                code="image_bomb",
            ) from None
        if kind:
            raise ValidationError(
                _("The file is a %(kind)s, not a JPEG, PNG or TIFF image.") % {"kind": kind},
                code="image_format",
            ) from None
        raise ValidationError(
            _("The file is not a JPEG, PNG or TIFF image."), code="image_format"
        ) from None
    if fmt not in ACCEPTED:
        raise ValidationError(
            _("The image is a %(kind)s; only JPEG, PNG and TIFF are accepted.") % {"kind": fmt},
            code="image_format",
        )
    if width * height > max_pixels() or width < 1 or height < 1:
        raise ValidationError(
            _("The image has %(w)d × %(h)d pixels; at most %(max)d million are allowed.")
            % {"w": width, "h": height, "max": max_pixels() // 1_000_000},
            code="image_bomb",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.open(io.BytesIO(data)).verify()
            # verify() reads the structure only: decode every pixel (on a fresh image, verify
            # leaves its own unusable), as the derivatives will.
            _open(data, WEB_SIZE).load()
    except Exception:
        raise ValidationError(
            _("The image file is damaged and cannot be read."), code="image_damaged"
        ) from None
    return fmt, width, height


def _open(data: bytes, size: int) -> Image.Image:
    """The image, set to decode a JPEG at the smallest scale still ``size`` px or more."""
    image = Image.open(io.BytesIO(data))
    image.seek(0)
    image.draft("RGB", (size, size))
    return image


def _pixels(data: bytes, size: int = WEB_SIZE) -> Image.Image:
    image = _open(data, size)
    ImageOps.exif_transpose(image, in_place=True)  # not a copy: one image in memory
    if image.mode not in ("RGB", "L"):
        if image.mode in ("I;16", "I;16B", "I", "F"):
            image = image.point(lambda v: v / 256).convert("L")
        else:
            image = (
                image.convert("RGBA").convert("RGB") if "A" in image.mode else image.convert("RGB")
            )
    return image


def derivatives(data: bytes) -> tuple[bytes, bytes]:
    """(web, thumbnail) JPEGs from one decoding of the upload (the thumbnail is made from the
    web image: each step shrinks the same image in place)."""
    image = _pixels(data, WEB_SIZE)
    return _jpeg(image, WEB_SIZE), _jpeg(image, THUMB_SIZE)


def _jpeg(image: Image.Image, size: int) -> bytes:
    """Shrink ``image`` in place to at most ``size`` px and encode it, pixels only."""
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


@transaction.atomic
def add_digital_page(record, upload, *, acting_user, page_number: int | None = None) -> DigitalPage:
    """Validate an uploaded scan and store it with its derivatives."""
    data = upload.read() if hasattr(upload, "read") else bytes(upload)
    fmt, width, height = inspect_image(data)
    field = "volume" if isinstance(record, Volume) else "item"
    pages = DigitalPage.objects.filter(**{field: record})
    if page_number is None:
        page_number = (pages.aggregate(n=Max("page_number"))["n"] or 0) + 1
    elif pages.filter(page_number=page_number).exists():
        raise ValidationError(
            _("Page %(n)d already exists for this record.") % {"n": page_number},
            code="page_exists",
        )
    page = DigitalPage(
        **{field: record},
        page_number=page_number,
        # 部分开放: the decision's withheld pages hold for pages scanned after it too.
        withheld=page_number in withheld_pages_of(record),
        format=fmt,
        width=width,
        height=height,
        uploaded_by=acting_user if acting_user and acting_user.is_authenticated else None,
    )
    stem = f"{record.pk}-{page_number:04d}"
    web, thumbnail = derivatives(data)
    page.original.save(f"{stem}.{ACCEPTED[fmt]}", ContentFile(data), save=False)
    page.web.save(f"{stem}.jpg", ContentFile(web), save=False)
    page.thumbnail.save(f"{stem}.jpg", ContentFile(thumbnail), save=False)
    page.save()
    hooks.page_added(page)  # search reads its text (OCR) when it is installed
    record_event(
        f"repository.{field}.page_added",
        acting_user=acting_user,
        obj=record,
        after={"page": page_number, "format": fmt, "width": width, "height": height},
    )
    return page


def _delete_files_on_commit(names: list[tuple[object, str]]) -> None:
    """Remove stored files once the change that dropped them is committed (a rollback keeps
    them: the rows still name them)."""

    def remove() -> None:
        for storage, name in names:
            if name:
                storage.delete(name)  # type: ignore[attr-defined]

    transaction.on_commit(remove)


def _stored(page: DigitalPage) -> list[tuple[object, str]]:
    return [(f.storage, f.name) for f in (page.original, page.web, page.thumbnail) if f]


@transaction.atomic
def replace_digital_page(page: DigitalPage, upload, *, acting_user) -> DigitalPage:
    """A new scan of the same page (a better scan, a page scanned crooked): same number, same
    withheld state. Its text is read again (search: the old reading leaves the index at once,
    ahead of ordinary changes)."""
    data = upload.read() if hasattr(upload, "read") else bytes(upload)
    fmt, width, height = inspect_image(data)
    page = DigitalPage.objects.select_for_update().get(pk=page.pk)
    record = page.record
    field = "volume" if page.volume_id else "item"
    before = {"page": page.page_number, "format": page.format, "width": page.width}
    old_files = _stored(page)
    stem = f"{record.pk}-{page.page_number:04d}"
    web, thumbnail = derivatives(data)
    page.original.save(f"{stem}.{ACCEPTED[fmt]}", ContentFile(data), save=False)
    page.web.save(f"{stem}.jpg", ContentFile(web), save=False)
    page.thumbnail.save(f"{stem}.jpg", ContentFile(thumbnail), save=False)
    page.format, page.width, page.height = fmt, width, height
    page.uploaded_by = acting_user if acting_user and acting_user.is_authenticated else None
    page.save()
    _delete_files_on_commit(old_files)
    hooks.page_replaced(page)
    record_event(
        f"repository.{field}.page_replaced",
        acting_user=acting_user,
        obj=record,
        before=before,
        after={"page": page.page_number, "format": fmt, "width": width, "height": height},
    )
    return page


@transaction.atomic
def delete_digital_page(page: DigitalPage, *, acting_user) -> None:
    """Remove a digitised page (a duplicate, a page of another record): its scans and its
    text go with it, and search forgets its words at once, ahead of ordinary changes."""
    page = DigitalPage.objects.select_for_update().get(pk=page.pk)
    record = page.record
    field = "volume" if page.volume_id else "item"
    old_files = _stored(page)
    number = page.page_number
    page.delete()  # its text (search.PageText) goes with it
    _delete_files_on_commit(old_files)
    hooks.page_removed(record)
    record_event(
        f"repository.{field}.page_deleted",
        acting_user=acting_user,
        obj=record,
        before={"page": number},
    )


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    files = cjk_font_files()  # Pillow reads every kind, CFF included
    return str(files[0]) if files else None


def _text_tile(size: int) -> Image.Image:
    """The watermark text, ``size`` px high, white on transparent (alpha only)."""
    path = cjk_font_path()
    if path:
        font = ImageFont.truetype(path, size)
        left, top, right, bottom = font.getbbox(WATERMARK_TEXT)
        tile = Image.new("L", (right - left + size // 2, bottom - top + size // 2), 0)
        ImageDraw.Draw(tile).text((size // 4 - left, size // 4 - top), WATERMARK_TEXT, 255, font)
        return tile
    cell = size
    gap = size // 4
    tile = Image.new("L", (len(WATERMARK_TEXT) * (cell + gap) + gap, cell + 2 * gap), 0)
    draw = ImageDraw.Draw(tile)
    width = max(2, size // 9)
    for index, char in enumerate(WATERMARK_TEXT):
        x0 = gap + index * (cell + gap)
        for stroke in STROKES[char]:
            points = [(x0 + x * cell / 10, gap + y * cell / 10) for x, y in stroke]
            draw.line(points, fill=255, width=width, joint="curve")
    return tile


def apply_watermark(image: Image.Image) -> Image.Image:
    """Tile "仅供查阅" diagonally over the image, semi-transparent."""
    base = image.convert("RGB")
    size = max(16, min(base.size) // 10)
    tile = _text_tile(size).rotate(30, expand=True, resample=Image.Resampling.BICUBIC)
    mask = Image.new("L", base.size, 0)
    step_x, step_y = tile.width + size, tile.height + size
    for y in range(-tile.height // 2, base.height, step_y):
        for x in range(-tile.width // 2 + (y // step_y % 2) * step_x // 2, base.width, step_x):
            mask.paste(tile, (x, y), tile)
    mask = mask.point(lambda v: v * 90 // 255)
    grey = Image.new("RGB", base.size, (128, 128, 128))
    return Image.composite(grey, base, mask)


def render_variant(page: DigitalPage, variant: str, *, watermark: bool) -> bytes:
    stored = page.thumbnail if variant == "thumb" else page.web
    with stored.open("rb") as handle:
        data = handle.read()
    if not watermark:
        return data
    image = Image.open(io.BytesIO(data))
    out = io.BytesIO()
    apply_watermark(image).save(out, "JPEG", quality=85)
    return out.getvalue()
