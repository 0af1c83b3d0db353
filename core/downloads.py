"""Protected downloads (scans): served by nginx through ``X-Accel-Redirect`` when the site is
behind it (``X_ACCEL_REDIRECT_PREFIX``, matching an ``internal`` location in deploy/nginx), so
a large file never passes through the Python process; otherwise streamed by Django (under ASGI
too: core/streaming.py). The view decides who may download; nginx only sends the bytes."""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db.models.fields.files import FieldFile
from django.http import HttpResponse, HttpResponseBase
from django.utils.http import content_disposition_header

from core.streaming import StreamingFileResponse


def protected_file(field_file: FieldFile, *, filename: str) -> HttpResponseBase:
    prefix = settings.X_ACCEL_REDIRECT_PREFIX
    if not prefix or not isinstance(field_file.storage, FileSystemStorage):
        return StreamingFileResponse(field_file.open("rb"), filename=filename)
    content_type, _encoding = mimetypes.guess_type(filename)
    response = HttpResponse(content_type=content_type or "application/octet-stream")
    response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(field_file.name or "")
    response["Content-Disposition"] = content_disposition_header(False, filename) or ""
    return response
