from django.db import migrations


# Frozen here (the rules as they were then): the live table's columns have changed since.
DEFAULT_RULES = [
    {"priority": 10, "min_classification": 1, "access_status": "", "purpose": "",
     "role": "approver", "steps": 2,
     "description": "Classified records: approver, then a second approver"},
    {"priority": 20, "min_classification": 0, "access_status": "", "purpose": "lending",
     "role": "approver", "steps": 1, "description": "Lending out of the building"},
    {"priority": 30, "min_classification": 0, "access_status": "controlled", "purpose": "",
     "role": "approver", "steps": 1, "description": "Controlled records"},
    {"priority": 40, "min_classification": 0, "access_status": "unreviewed", "purpose": "",
     "role": "approver", "steps": 1, "description": "Records not yet reviewed for opening"},
    {"priority": 100, "min_classification": 0, "access_status": "", "purpose": "",
     "role": "front_desk", "steps": 1, "description": "Open records: front desk"},
]


def seed_rules(apps, schema_editor):
    ApprovalRule = apps.get_model("borrowing", "ApprovalRule")
    if not ApprovalRule.objects.exists():
        ApprovalRule.objects.bulk_create(ApprovalRule(**rule) for rule in DEFAULT_RULES)


class Migration(migrations.Migration):
    dependencies = [("borrowing", "0001_access_requests_and_loans")]
    operations = [migrations.RunPython(seed_rules, migrations.RunPython.noop)]
