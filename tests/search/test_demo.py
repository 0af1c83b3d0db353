"""``seed_demo`` ends with a working search index (search/demo.py)."""

from __future__ import annotations

import io

from search import demo
from search.backends import SearchUnavailable, use_backend
from search.query import SearchRequest, Visibility


def test_demo_builds_the_index(backend, catalogue):
    out = io.StringIO()
    demo.seed(records=10, out=out)
    assert "11 documents, live" in out.getvalue()
    backend.refresh()
    result = backend.search(SearchRequest(query="合同"), Visibility())
    assert result.total == 1


def test_demo_survives_an_unreachable_engine(db):
    class Down:
        name = "elasticsearch"

        def setup(self):
            raise SearchUnavailable("connection refused")

    out = io.StringIO()
    with use_backend(Down()):
        demo.seed(records=10, out=out)
    assert "search_reindex" in out.getvalue()


def test_demo_is_idempotent(backend, catalogue):
    demo.seed(records=10, out=io.StringIO())
    backend.refresh()
    out = io.StringIO()
    demo.seed(records=10, out=out)
    assert "already holds 11 documents" in out.getvalue()
