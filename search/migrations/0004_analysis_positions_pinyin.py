"""One analysis for every backend (``search.analysis``): positions, characters, pinyin, codes.

PostgreSQL: ``search_vector`` is now generated from ``lexemes`` (the document's ``tsvector`` as
text, written by the backend: bigrams *and* single characters with positions and weights, pinyin,
the compact code) plus the scope lexemes of migration 0003, so ranking can use ``ts_rank_cd``
and phrases. SQLite: the FTS5 table gets a column per token stream.

Existing rows have no tokens in the new form: run ``manage.py search_reindex`` after migrating.
"""

from importlib import import_module

from django.db import migrations, models

previous = import_module("search.migrations.0003_scope_lexemes_and_sort_indexes")

PG_FORWARD = [
    "ALTER TABLE search_document DROP COLUMN search_vector",  # drops its GIN index too
    f"ALTER TABLE search_document ADD COLUMN search_vector tsvector "
    f"GENERATED ALWAYS AS ((lexemes::tsvector){previous.SCOPE}) STORED",
    "CREATE INDEX search_document_vector_gin ON search_document USING gin (search_vector)",
]
PG_BACKWARD = [
    "ALTER TABLE search_document DROP COLUMN search_vector",
    f"ALTER TABLE search_document ADD COLUMN search_vector tsvector "
    f"GENERATED ALWAYS AS ({previous.WORDS}{previous.SCOPE}) STORED",
    "CREATE INDEX search_document_vector_gin ON search_document USING gin (search_vector)",
]
SQLITE_FORWARD = [
    "DROP TABLE IF EXISTS search_document_fts",
    "CREATE VIRTUAL TABLE search_document_fts USING fts5("
    "title, title_chars, body, body_chars, pinyin, initials, tokenize='unicode61')",
]
SQLITE_BACKWARD = [
    "DROP TABLE IF EXISTS search_document_fts",
    "CREATE VIRTUAL TABLE search_document_fts USING fts5(title, body, tokenize='unicode61')",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0003_scope_lexemes_and_sort_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="searchdocument",
            name="title_key",
            field=models.CharField(blank=True, default="", max_length=500),
        ),
        migrations.AddField(
            model_name="searchdocument",
            name="code_key",
            field=models.CharField(blank=True, db_index=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="searchdocument",
            name="lexemes",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
