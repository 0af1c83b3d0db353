"""Forms of the review desk, declassification and appraisal (issue 13). They parse and show
errors; the rules live in repository.services (opening, classification, appraisal). Kept
apart from ``repository.forms`` (description forms) so the two evolve without conflicts."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.choices import Classification
from repository.choices import AppraisalDecision, OpeningDecision, Retention, SecrecyPeriodKind
from repository.forms import DecisionForm
from repository.models import Category, Fonds

DATE = forms.DateInput(attrs={"type": "date"})


class QueueFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("level"),
        choices=[("item", _("items")), ("volume", _("volumes"))],
        required=False,
    )
    fonds = forms.ModelChoiceField(label=_("fonds"), queryset=Fonds.objects.all(), required=False)
    category = forms.ModelChoiceField(
        label=_("category"), queryset=Category.objects.all(), required=False
    )
    year = forms.IntegerField(label=_("year"), min_value=1000, max_value=2999, required=False)
    classification = forms.TypedChoiceField(
        label=_("classification"),
        choices=[("", "—"), *Classification.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    creator = forms.CharField(label=_("creator"), max_length=200, required=False)
    ahead = forms.IntegerField(
        label=_("due within (months)"), min_value=0, max_value=120, required=False
    )


class UnitOpinionMixin(forms.Form):
    """The forming or transferring unit's opinion (档案法 2020 第三十条)."""

    unit_name = forms.CharField(label=_("transferring unit"), max_length=200, required=False)
    unit_opinion_on = forms.DateField(
        label=_("date of the unit's opinion"), required=False, widget=DATE
    )
    unit_opinion = forms.CharField(
        label=_("unit's opinion"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


class ReviewDecisionForm(DecisionForm, UnitOpinionMixin):
    redaction_note = forms.CharField(
        label=_("redaction note"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    unit_attachment = forms.FileField(label=_("unit's opinion (attachment)"), required=False)

    field_order = ["decision", "reason", "next_review_on", "withheld_pages", "redaction_note"]


class BatchDecisionForm(UnitOpinionMixin):
    decision = forms.ChoiceField(label=_("decision"), choices=OpeningDecision.choices)
    reason = forms.CharField(
        label=_("reason"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    next_review_on = forms.DateField(label=_("next review date"), required=False, widget=DATE)
    redaction_note = forms.CharField(label=_("redaction note"), required=False)

    field_order = ["decision", "reason", "next_review_on", "redaction_note"]


class SheetUploadForm(forms.Form):
    file = forms.FileField(label=_("filled-in review sheet (.xlsx)"))


class DeclassifyForm(forms.Form):
    to_level = forms.TypedChoiceField(
        label=_("new classification"), choices=Classification.choices, coerce=int
    )
    basis = forms.CharField(label=_("basis"), widget=forms.Textarea(attrs={"rows": 2}))
    authority = forms.CharField(
        label=_("deciding authority"),
        max_length=200,
        help_text=_("The original classifying body, its superior or its successor."),
    )
    decided_on = forms.DateField(label=_("decided on"), widget=DATE)


class SecrecyForm(forms.Form):
    kind = forms.ChoiceField(label=_("secrecy period"), choices=SecrecyPeriodKind.choices)
    years = forms.IntegerField(label=_("years"), min_value=1, max_value=99, required=False)
    ends_on = forms.DateField(label=_("secrecy ends on"), required=False, widget=DATE)
    marked_on = forms.DateField(label=_("classified on"), required=False, widget=DATE)
    basis = forms.CharField(label=_("classification basis"), max_length=300, required=False)


class AppraisalForm(forms.Form):
    decision = forms.ChoiceField(label=_("decision"), choices=AppraisalDecision.choices)
    new_retention = forms.ChoiceField(
        label=_("new retention"), choices=[("", "—"), *Retention.choices], required=False
    )
    opinion = forms.CharField(
        label=_("appraisal opinion"), widget=forms.Textarea(attrs={"rows": 2})
    )
    appraisers = forms.CharField(
        label=_("appraisers"), max_length=300, help_text=_("At least two names, separated by 、")
    )


class DestructionForm(forms.Form):
    method = forms.CharField(label=_("method"), max_length=100)
    place = forms.CharField(label=_("place"), max_length=200)
    destroyed_on = forms.DateField(label=_("destroyed on"), widget=DATE)
    second_supervisor = forms.CharField(label=_("second supervisor (user name)"), max_length=150)
    second_password = forms.CharField(
        label=_("second supervisor's password"), widget=forms.PasswordInput
    )
