"""保密期限 has one home: the text column ``secrecy_period`` (issue 14) moves into ``SecrecyTerm``
rows (issue 13, the rule holder) and is dropped.

- "N年" → years, counted from the record's date (保密期限自标明的制发日起算), "YYYYMMDD" → a date,
  "长期" → long-term (its basis left empty: the ruling was never recorded; the classification
  page asks for it on the next change).
- A record that already has a SecrecyTerm keeps it (the term is the rule holder).
- A value on a 非密 record, or one that does not parse, cannot be a term: it is kept as found in
  ``legacy_values["保密期限"]`` so nothing is lost. Values above the 保守国家秘密法 2024 第十五条
  limits are moved as found (a migration does not decide; the service refuses new ones).
- Reverse: the column is restored and refilled from the terms' written form.
"""

import datetime as dt
import re

from django.db import migrations

_YEARS = re.compile(r"^★?\s*([1-9]\d{0,2})\s*年?$")


def _add_years(day, years):
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _term_values(text, marked_on):
    if text in ("长期", "长期保密"):
        return {"kind": "long", "years": None, "ends_on": None}
    match = _YEARS.match(text)
    if match:
        years = int(match.group(1))
        start = marked_on or dt.date.today()
        return {"kind": "years", "years": years, "ends_on": _add_years(start, years)}
    digits = text.replace("-", "")
    if re.fullmatch(r"\d{8}", digits):
        try:
            day = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            return None
        return {"kind": "date", "years": None, "ends_on": day}
    return None


def forwards(apps, schema_editor):
    SecrecyTerm = apps.get_model("repository", "SecrecyTerm")
    for kind in ("volume", "item"):
        Model = apps.get_model("repository", kind)
        rows = Model.objects.exclude(secrecy_period="").filter(**{"secrecy__isnull": True})
        for record in rows.iterator():
            text = record.secrecy_period.strip()
            values = _term_values(text, record.date_start) if record.classification else None
            if values is None:
                legacy = dict(record.legacy_values or {})
                legacy.setdefault("保密期限", text)
                Model.objects.filter(pk=record.pk).update(legacy_values=legacy)
                continue
            SecrecyTerm.objects.create(**{kind: record}, marked_on=record.date_start, **values)


def backwards(apps, schema_editor):
    SecrecyTerm = apps.get_model("repository", "SecrecyTerm")
    for term in SecrecyTerm.objects.select_related("volume", "item"):
        record = term.volume or term.item
        if term.kind == "long":
            text = "长期"
        elif term.kind == "years":
            text = f"{term.years}年"
        else:
            text = f"{term.ends_on:%Y%m%d}" if term.ends_on else ""
        type(record).objects.filter(pk=record.pk).update(secrecy_period=text)


class Migration(migrations.Migration):
    dependencies = [("repository", "0007_archival_integrity")]

    operations = [
        # Backwards runs after the columns are restored (operations reverse in reverse order).
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(model_name="item", name="secrecy_period"),
        migrations.RemoveField(model_name="volume", name="secrecy_period"),
    ]
