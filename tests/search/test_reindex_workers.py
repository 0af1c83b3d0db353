"""``search_reindex --workers N``: the documents' analysis in worker processes
(``search.parallel``) builds exactly the index one process builds, on every backend."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from search.backends.elasticsearch import ElasticsearchBackend, source_of
from search.documents import iter_documents, record_models
from search.models import SearchDocument
from search.parallel import prepared, worker_count
from search.sync import reindex
from search.tokens import analysed, pg_lexemes, with_analysed, with_lexemes


def contents(backend) -> list:
    """Everything the index holds, in a comparable form."""
    if isinstance(backend, ElasticsearchBackend):
        from elasticsearch.helpers import scan

        backend.refresh()
        hits = scan(backend.client, index=backend.alias, query={"query": {"match_all": {}}})
        return sorted((h["_id"], json.dumps(h["_source"], sort_keys=True)) for h in hits)
    rows = SearchDocument.objects.order_by("doc_id").values()
    return [{k: v for k, v in row.items() if k != "id"} for row in rows]


def every_document() -> list[dict]:
    return [doc for kind in record_models() for doc in iter_documents(kind)]


def test_workers_build_the_same_index(backend, indexed, monkeypatch):
    import search.parallel

    assert reindex(backend=backend).switched
    one_process = contents(backend)
    assert len(one_process) == 11
    monkeypatch.setattr(search.parallel, "CHUNK", 3)  # several chunks in flight, out of order
    result = reindex(backend=backend, workers=2)
    assert result.switched and result.streamed == 11
    assert contents(backend) == one_process


def test_prepared_keeps_order_and_does_the_analysis_in_the_workers(catalogue):
    docs = every_document()
    plain = [pg_lexemes(dict(doc)) for doc in docs]
    out = list(prepared((dict(d) for d in docs), with_lexemes, workers=2, chunk=2))
    assert [d["doc_id"] for d in out] == [d["doc_id"] for d in docs]
    assert [d["_lexemes"] for d in out] == plain  # set only by with_lexemes, in a worker
    analysed_out = list(prepared((dict(d) for d in docs), with_analysed, workers=2, chunk=4))
    assert [d["_analysed"] for d in analysed_out] == [analysed(dict(d)) for d in docs]


def test_one_worker_or_nothing_to_prepare_stays_in_process(catalogue):
    docs = every_document()
    assert list(prepared(iter(docs), with_lexemes, workers=1)) == docs
    assert list(prepared(iter(docs), None, workers=4)) == docs
    assert not any("_lexemes" in d for d in docs)


def test_analysis_done_ahead_is_never_indexed_as_a_field(catalogue):
    doc = every_document()[0]
    assert source_of(with_analysed(dict(doc))) == source_of(doc)
    assert pg_lexemes(with_lexemes(dict(doc))) == pg_lexemes(doc)


def test_a_worker_failure_stops_the_rebuild():
    docs = [{"doc_id": "x"}]  # no title: the analysis raises in the worker
    with pytest.raises(KeyError):
        list(prepared(docs, with_lexemes, workers=2))


def test_worker_count():
    assert worker_count("3") == 3
    assert worker_count("auto") >= 1
    for bad in ("0", "-1", "many"):
        with pytest.raises(ValueError):
            worker_count(bad)


def test_command_refuses_bad_workers(db):
    with pytest.raises(CommandError, match="--workers"):
        call_command("search_reindex", "--no-progress", "--workers", "0")


def test_command_with_workers(backend, indexed, capsys):
    call_command("search_reindex", "--no-progress", "--workers", "2")
    out = capsys.readouterr().out
    assert "11 streamed" in out and "live index switched" in out
