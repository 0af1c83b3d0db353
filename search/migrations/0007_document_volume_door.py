"""An item's document carries its volume's part of the record door: the volume's 密级 and fonds
when the volume is not public (``search.documents.volume_door``), so that staff search follows
``visible_to`` for items in a classified or closed volume (before, a member of staff cleared
below the volume's 密级 found such an item through search while its record page hid it).

The columns are added empty, nullable and without a CHECK constraint, so PostgreSQL neither
rewrites nor scans the table (a copy of a validated 密级 needs no check). A document indexed
before reads as it did until ``manage.py search_reindex`` rewrites it: run it after upgrading
(Elasticsearch too).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0006_outbox_narrowing_first"),
    ]

    operations = [
        migrations.AddField(
            model_name="searchdocument",
            name="volume_classification",
            field=models.SmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="searchdocument",
            name="volume_fonds_id",
            field=models.IntegerField(blank=True, null=True),
        ),
    ]
