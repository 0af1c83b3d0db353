"""Forms: parse and validate input at the edge; services enforce the rules."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from borrowing.choices import CopyMedium, EffectCategory, IdDocumentType, UseMethod
from borrowing.models import UsePurpose


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")  # what <input type=date> expects


class AccessRequestForm(forms.Form):
    """One request for one or more records: the purpose (from the configured list), the visit,
    and per record its method of use (``method-<n>``, ``copy_pages-<n>`` …). A reader with no
    registration yet gives their identity document here once."""

    purpose = forms.ModelChoiceField(
        label=_("Purpose of use"), queryset=UsePurpose.objects.none(), to_field_name="code"
    )
    date_from = forms.DateField(label=_("Visit date"), widget=DateInput)
    date_to = forms.DateField(label=_("Until (lending only)"), required=False, widget=DateInput)
    id_document_type = forms.ChoiceField(
        label=_("Identity document"), choices=[("", "—"), *IdDocumentType.choices], required=False
    )
    id_number = forms.CharField(
        label=_("Document number"),
        max_length=30,
        required=False,
        help_text=_("Only the last four characters are kept."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    id_document_expires = forms.DateField(
        label=_("Document valid until"), required=False, widget=DateInput
    )
    note = forms.CharField(
        label=_("Note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, records=(), staff: bool = False, registered: bool = False, **kw):
        super().__init__(*args, **kw)
        today = timezone.localdate()
        self.records = list(records)
        UsePurpose.ensure_defaults()
        self.fields["purpose"].queryset = UsePurpose.objects.filter(active=True)
        self.fields["date_from"].initial = today
        if staff or registered:
            for name in ("id_document_type", "id_number", "id_document_expires"):
                del self.fields[name]
        for n, _record in enumerate(self.records):
            self.fields[f"method-{n}"] = forms.ChoiceField(
                label=_("Method of use"), choices=UseMethod.choices, initial=UseMethod.READING
            )
            self.fields[f"copy_pages-{n}"] = forms.IntegerField(
                label=_("Pages to copy"), required=False, min_value=1, max_value=100000
            )
            self.fields[f"copy_medium-{n}"] = forms.ChoiceField(
                label=_("Copy medium"), choices=CopyMedium.choices, required=False
            )
            self.fields[f"certified-{n}"] = forms.BooleanField(
                label=_("Certified copy"), required=False
            )

    def line_rows(self):
        """Per record: the record and its bound fields (for the template)."""
        return [
            {
                "record": record,
                "fields": [
                    self[f"{name}-{n}"]
                    for name in ("method", "copy_pages", "copy_medium", "certified")
                ],
            }
            for n, record in enumerate(self.records)
        ]

    def common_fields(self):
        return [field for field in self if "-" not in field.name]

    def lines(self) -> list[dict]:
        data = self.cleaned_data
        return [
            {
                "record": record,
                "method": data.get(f"method-{n}"),
                "copy_pages": data.get(f"copy_pages-{n}"),
                "copy_medium": data.get(f"copy_medium-{n}") or "",
                "certified": data.get(f"certified-{n}", False),
            }
            for n, record in enumerate(self.records)
        ]


class DecisionForm(forms.Form):
    approve = forms.TypedMultipleChoiceField(
        label=_("Approve"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(
        label=_("Reason (required for refusals)"), max_length=500, required=False
    )

    def __init__(self, *args, lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["approve"].choices = [(line.pk, str(line.record)) for line in lines]
        self.fields["approve"].initial = [line.pk for line in lines]


class CheckOutForm(forms.Form):
    due_date = forms.DateField(label=_("Due date (lending only)"), required=False, widget=DateInput)
    conditions = forms.CharField(label=_("Conditions"), max_length=500, required=False)
    identity_seen = forms.CharField(
        label=_("Identity document seen (first use)"), max_length=200, required=False
    )


class ReturnForm(forms.Form):
    counted = forms.IntegerField(
        label=_("Pages/items counted"), required=False, min_value=0, max_value=1000000
    )
    condition = forms.CharField(label=_("Condition"), max_length=500, required=False)


class ServeForm(forms.Form):
    pages = forms.IntegerField(label=_("Pages made"), required=False, min_value=1, max_value=100000)
    content = forms.CharField(
        label=_("Certificate content"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    identity_seen = forms.CharField(
        label=_("Identity document seen (first use)"), max_length=200, required=False
    )


class EffectForm(forms.Form):
    effect = forms.ChoiceField(label=_("Effect of use"), choices=EffectCategory.choices)
    note = forms.CharField(
        label=_("Described"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RenewForm(forms.Form):
    due_date = forms.DateField(label=_("New due date"), required=False, widget=DateInput)
