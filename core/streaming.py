"""Streamed responses that stream under ASGI too.

Django's ASGI handler reads a streamed response through ``__aiter__``; given a synchronous
iterator (a CSV generator over a database cursor, a file), it warns "StreamingHttpResponse must
consume synchronous iterators …" and reads the *whole* iterator into a list first: a large
export or scan was held in memory and sent only at the end. These responses pull from the same
synchronous iterator a few parts at a time, each batch in the request's own thread
(``thread_sensitive``: the thread that ran the view, whose database connection a server-side
cursor belongs to), and send each batch as it comes. Synchronous servers and the test client
keep reading them synchronously (``__iter__``), so nothing else changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from itertools import islice

from asgiref.sync import sync_to_async
from django.http import FileResponse, StreamingHttpResponse

PARTS_PER_BATCH = 256  # CSV lines (or file blocks) per hop to the request's thread


def _take(parts: Iterator[bytes], count: int) -> bytes | None:
    batch = list(islice(parts, count))
    return b"".join(batch) if batch else None


class AsyncChunks:
    """``__aiter__`` for a response whose content is a synchronous iterator."""

    parts_per_batch = PARTS_PER_BATCH

    async def __aiter__(self) -> AsyncIterator[bytes]:
        parts = iter(self.streaming_content)  # type: ignore[attr-defined]
        take = sync_to_async(_take, thread_sensitive=True)
        while (batch := await take(parts, self.parts_per_batch)) is not None:
            if batch:
                yield batch


class StreamingResponse(AsyncChunks, StreamingHttpResponse):
    """``StreamingHttpResponse`` over a synchronous iterator, streamed under ASGI."""


class StreamingFileResponse(AsyncChunks, FileResponse):
    """``FileResponse`` (a file read in blocks of ``block_size``), streamed under ASGI."""

    block_size = 64 * 1024
    parts_per_batch = 4  # 256 KiB per hop
