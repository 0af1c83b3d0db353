"""Where the device ingest stores readings: the COPY fast path into ``storage_env_reading``.

The MQTT ingest (``devices.ingest``, below this app) calibrates readings into row tuples and
calls ``core.hooks.insert_readings``; ``StorageEnvConfig.ready()`` registers ``insert_readings``
here (and ``forget_staging`` for the ingest's database-failure path), so devices never imports
storage_env.
"""

from __future__ import annotations

import datetime as dt
import weakref

from django.db import connection, transaction

from storage_env.models import Reading

STAGING_TABLE = "lantai_reading_in"
# Database connections (psycopg) whose session has the staging table; emptied after any
# database error so that the table is made again (IF NOT EXISTS) rather than assumed.
_staged_connections: weakref.WeakSet = weakref.WeakSet()

READING_COLUMNS = (
    "sensor_id, room_id, ts, temperature, humidity, dew_point, battery, seq, ts_received"
)


def insert_readings(rows: list[tuple], received_at: dt.datetime) -> int:
    """INSERT … ON CONFLICT DO NOTHING of (sensor pk, room pk, ts, temperature, humidity, dew
    point, battery, seq, ts received?) rows; returns how many were new.

    PostgreSQL: binary COPY into a session-local staging table, then one INSERT … SELECT (no
    per-row placeholders, no per-value Python adaptation). Others: multi-row VALUES.
    """
    table = Reading._meta.db_table
    if connection.vendor == "postgresql":
        raw = connection.connection
        # psycopg's own errors become Django's (OperationalError on an outage) as with the ORM
        with connection.wrap_database_errors, raw.cursor() as cursor:
            if raw not in _staged_connections:
                cursor.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {STAGING_TABLE} (sensor_id bigint, "
                    "room_id bigint, ts timestamptz, temperature float8, humidity float8, "
                    "dew_point float8, battery smallint, seq bigint, ts_received boolean) "
                    "ON COMMIT DELETE ROWS"
                )
                # the CREATE is undone if this transaction rolls back: count it after commit
                transaction.on_commit(lambda: _staged_connections.add(raw))
            with cursor.copy(
                f"COPY {STAGING_TABLE} ({READING_COLUMNS}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(
                    [
                        "int8",
                        "int8",
                        "timestamptz",
                        "float8",
                        "float8",
                        "float8",
                        "int2",
                        "int8",
                        "bool",
                    ]
                )
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({READING_COLUMNS}, received_at) "  # noqa: S608
                f"SELECT {READING_COLUMNS}, %s FROM {STAGING_TABLE} "
                "ON CONFLICT (sensor_id, ts) DO NOTHING",
                [received_at],
            )
            return cursor.rowcount
    inserted = 0
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(received_at)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = [(*row[:2], adapt(row[2]), *row[3:], received) for row in rows[start:][:500]]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} ({READING_COLUMNS}, received_at) "  # noqa: S608
                f"VALUES {values} ON CONFLICT (sensor_id, ts) DO NOTHING RETURNING id",
                [value for row in chunk for value in row],
            )
            inserted += len(cursor.fetchall())
    return inserted


def forget_staging() -> None:
    """After a database error: make the staging table again (IF NOT EXISTS), never assume it."""
    _staged_connections.clear()
