"""Forms: parse and validate input at the edge; services enforce the rules."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from borrowing.choices import IdDocumentType, Purpose


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")  # what <input type=date> expects


class AccessRequestForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices)
    date_from = forms.DateField(label=_("From"), widget=DateInput)
    date_to = forms.DateField(label=_("To"), widget=DateInput)
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

    def __init__(self, *args, staff: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["date_from"].initial = today
        self.fields["date_to"].initial = today
        if staff:
            for name in ("id_document_type", "id_number", "id_document_expires"):
                del self.fields[name]


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
    due_date = forms.DateField(label=_("Due date"), widget=DateInput)
    conditions = forms.CharField(label=_("Conditions"), max_length=500, required=False)


class RenewForm(forms.Form):
    due_date = forms.DateField(label=_("New due date"), required=False, widget=DateInput)
