from django.db import migrations


def seed_rules(apps, schema_editor):
    from borrowing.services import DEFAULT_RULES

    ApprovalRule = apps.get_model("borrowing", "ApprovalRule")
    if not ApprovalRule.objects.exists():
        ApprovalRule.objects.bulk_create(ApprovalRule(**rule) for rule in DEFAULT_RULES)


class Migration(migrations.Migration):
    dependencies = [("borrowing", "0001_access_requests_and_loans")]
    operations = [migrations.RunPython(seed_rules, migrations.RunPython.noop)]
