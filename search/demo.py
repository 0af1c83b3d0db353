"""Demo search index for ``seed_demo``: builds the index after the catalogue was seeded.

The catalogue's demo data writes no outbox rows (it is loaded in bulk), so the index is built
with the zero-downtime reindex service; running it again rebuilds the same index. When the
configured engine cannot be reached the demo still loads, and says how to build it later.
"""

from __future__ import annotations

from django.utils import timezone

from search.backends import SearchUnavailable, get_backend
from search.sync import expected_count, reindex


def seed(*, records: int, out) -> None:
    backend = get_backend()
    try:
        backend.setup()
        have = backend.count()
        if have and have == expected_count(timezone.now()):
            out.write(f"  search index ({backend.name}) already holds {have} documents")
            return
        result = reindex(backend=backend, progress=records >= 20_000)
    except (SearchUnavailable, ConnectionError, OSError) as exc:
        out.write(
            f"  search index not built ({backend.name} unavailable: {exc}); "
            "run `python manage.py search_reindex` when it is up"
        )
        return
    state = "live" if result.switched else "NOT switched (count mismatch)"
    out.write(
        f"  search index ({backend.name}): {result.counted} documents, {state}, "
        f"{result.seconds:.1f}s"
    )
