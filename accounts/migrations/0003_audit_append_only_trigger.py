"""On PostgreSQL, refuse UPDATE and DELETE on audit rows in the database itself.

TRUNCATE (used by test flushes and by an operator's deliberate purge) is not a row operation and
is not blocked. SQLite relies on the model and queryset guards.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION accounts_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'accounts_auditlog is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_auditlog_append_only
    BEFORE UPDATE OR DELETE ON accounts_auditlog
    FOR EACH ROW EXECUTE FUNCTION accounts_auditlog_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS accounts_auditlog_append_only ON accounts_auditlog;
DROP FUNCTION IF EXISTS accounts_auditlog_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_create_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
