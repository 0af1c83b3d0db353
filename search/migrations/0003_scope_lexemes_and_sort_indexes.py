"""PostgreSQL: visibility, filters and a sample stratum inside the full-text index; sort indexes.

The ``search_vector`` gains "scope lexemes" that no text token can be (tokens never contain
``~``): ``~p`` for public records, ``~f<fonds>``, ``~c<classification>``, ``~g<category>``,
``~y<year>``, ``~k<kind>``, ``~a<access status>``, ``~r<retention>``, ``~m<carrier>``, and the
sample strata of a hash of the id, ``~s<h>`` (h = 0..1023) and ``~t<h / 32>`` (so ``~t0`` is
``~s0``..``~s31``). A search then puts visibility and filters into the same ``tsquery`` as the
words, so the GIN index alone yields exactly the visible matches (the table is read only for
rows that are counted or shown), and a few strata pick a uniform sample of any match set (a
hash, so that no periodic pattern of ids can bias it). The vector is re-generated (the table is
rewritten once).

Three b-tree indexes match the sorts of the search exactly (newest first and oldest first, with
undated records last either way, and reference code), each with ``doc_id`` as the tie-breaker of
the cursor, so a page after a cursor starts at its place in the index.
"""

from django.db import migrations

SCOPE = """
    || array_to_tsvector(array_remove(ARRAY[
        CASE WHEN is_public THEN '~p' END,
        '~f' || fonds_id::text,
        '~c' || classification::text,
        '~g' || category_id::text,
        '~y' || year::text,
        '~k' || kind,
        '~a' || access_status,
        '~r' || retention,
        '~m' || carrier,
        '~s' || (hashint8(id) & 1023)::text,
        '~t' || ((hashint8(id) & 1023) >> 5)::text
    ], NULL))
"""
WORDS = """
        setweight(array_to_tsvector(string_to_array(title_tokens, ' ')), 'A')
        || array_to_tsvector(string_to_array(body_tokens, ' '))
"""
# Sort keys without NULLs (undated records sort last both ways), so a cursor is a range of the
# index: the database backend orders by exactly these expressions.
NEWEST = "COALESCE(date_start, '-infinity'::date)"
OLDEST = "COALESCE(date_start, 'infinity'::date)"
PG_FORWARD = [
    "ALTER TABLE search_document DROP COLUMN search_vector",  # drops its GIN index too
    f"ALTER TABLE search_document ADD COLUMN search_vector tsvector "
    f"GENERATED ALWAYS AS ({WORDS}{SCOPE}) STORED",
    "CREATE INDEX search_document_vector_gin ON search_document USING gin (search_vector)",
    f"CREATE INDEX searchdoc_newest_idx ON search_document ({NEWEST} DESC, doc_id)",
    f"CREATE INDEX searchdoc_oldest_idx ON search_document ({OLDEST}, doc_id)",
    "CREATE INDEX searchdoc_code_doc_idx ON search_document (reference_code, doc_id)",
    "ANALYZE search_document",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS searchdoc_code_doc_idx",
    "DROP INDEX IF EXISTS searchdoc_newest_idx",
    "DROP INDEX IF EXISTS searchdoc_oldest_idx",
    "ALTER TABLE search_document DROP COLUMN search_vector",
    f"ALTER TABLE search_document ADD COLUMN search_vector tsvector "
    f"GENERATED ALWAYS AS ({WORDS}) STORED",
    "CREATE INDEX search_document_vector_gin ON search_document USING gin (search_vector)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0002_search_document"),
    ]

    operations = [migrations.RunPython(_run(PG_FORWARD), _run(PG_BACKWARD))]
