"""Forms: they parse and show errors; the rules live in repository.services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.choices import Classification
from repository import labels
from repository.choices import AccessStatus, Carrier, OpeningDecision, Retention, ShelvingKind
from repository.models import Category, Fonds, ShelvingUnit, StoreRoom, Volume


class RecordForm(forms.Form):
    reference_code = forms.CharField(
        label=_("reference code"),
        max_length=64,
        required=False,
        help_text=_("Leave empty to assign the next code of the fonds' pattern."),
    )
    title = forms.CharField(label=_("title"), max_length=500, required=False)
    creator = forms.CharField(label=_("creator"), max_length=200, required=False)
    date = forms.CharField(
        label=_("date"),
        max_length=40,
        required=False,
        help_text=_("YYYY, YYYY-MM, YYYY-MM-DD or a range such as 2019-03/2019-05."),
    )
    pages = forms.CharField(label=_("pages"), max_length=10, required=False)
    retention = forms.ChoiceField(label=_("retention"), choices=Retention.choices)
    classification = forms.TypedChoiceField(
        label=_("classification"), choices=Classification.choices, coerce=int
    )
    # Shown, never changed here: only an opening decision changes it (services.opening).
    access_status = forms.ChoiceField(
        label=_("access status"),
        choices=AccessStatus.choices,
        initial=AccessStatus.UNREVIEWED,
        disabled=True,
        help_text=_("Changes only through an opening review decision."),
    )
    carrier = forms.ChoiceField(label=_("carrier type"), choices=Carrier.choices)
    keywords = forms.CharField(label=_("keywords"), max_length=500, required=False)
    notes = forms.CharField(
        label=_("notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    filing_year = forms.CharField(label=_("filing year"), max_length=4, required=False)
    org_unit = forms.CharField(label=_("organisational unit"), max_length=100, required=False)

    def add_service_errors(self, error) -> None:
        """Show a service ValidationError on the fields it names."""
        if hasattr(error, "error_dict"):
            for field, messages in error.message_dict.items():
                target = field if field in self.fields else None
                for message in messages:
                    self.add_error(target, message)
        else:
            for message in error.messages:
                self.add_error(None, message)


class NewRecordForm(RecordForm):
    fonds = forms.ModelChoiceField(label=_("fonds"), queryset=Fonds.objects.none())
    category = forms.ModelChoiceField(label=_("category"), queryset=Category.objects.none())
    volume = forms.ModelChoiceField(
        label=_("volume"), queryset=Volume.objects.none(), required=False
    )

    field_order = ["fonds", "category", "volume"]

    def __init__(self, *args, fonds_qs, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fonds"].queryset = fonds_qs
        self.fields["category"].queryset = Category.objects.filter(fonds__in=fonds_qs)
        if kind == "item":
            self.fields["volume"].queryset = Volume.objects.filter(fonds__in=fonds_qs)
            self.fields["volume"].widget = forms.TextInput()
            self.fields["volume"].help_text = _("Volume id (optional).")
        else:
            del self.fields["volume"]


class RenumberForm(forms.Form):
    new_code = forms.CharField(label=_("new reference code"), max_length=64)
    reason = forms.CharField(label=_("reason"), max_length=500)


class MoveForm(forms.Form):
    to_position = forms.CharField(
        label=_("to position (code)"), max_length=64, help_text=_("Scan or type the shelf code.")
    )
    reason = forms.CharField(label=_("reason"), max_length=200)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("decision"), choices=OpeningDecision.choices)
    reason = forms.CharField(
        label=_("reason"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    next_review_on = forms.DateField(
        label=_("next review date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    withheld_pages = forms.CharField(
        label=_("withheld pages"),
        required=False,
        help_text=_("Page numbers separated by commas, e.g. 3,4,7."),
    )

    def clean_withheld_pages(self) -> list[int]:
        raw = self.cleaned_data.get("withheld_pages") or ""
        pages = []
        for part in raw.replace("，", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or int(part) < 1:
                raise forms.ValidationError(
                    _("“%(value)s” is not a page number.") % {"value": part}
                )
            pages.append(int(part))
        return pages


class PageUploadForm(forms.Form):
    image = forms.FileField(label=_("scan (JPEG, PNG or TIFF)"))
    page_number = forms.IntegerField(label=_("page number"), min_value=1, required=False)


class WhereIsForm(forms.Form):
    code = forms.CharField(label=_("reference, box or position code"), max_length=64)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("catalogue file (.csv or .xlsx)"))
    kind = forms.ChoiceField(
        label=_("level"), choices=[("item", _("items")), ("volume", _("volumes"))]
    )
    encoding = forms.ChoiceField(
        label=_("CSV encoding"),
        required=False,
        choices=[("", _("detect (UTF-8 or GBK)")), ("utf-8-sig", "UTF-8"), ("gb18030", "GBK")],
    )
    all_or_nothing = forms.BooleanField(label=_("write nothing if any row is bad"), required=False)


class LabelForm(forms.Form):
    codes = forms.CharField(
        label=_("codes (one per line)"),
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
    )
    unit = forms.ModelChoiceField(
        label=_("or every position of a shelving unit"),
        queryset=None,
        required=False,
    )
    size = forms.ChoiceField(
        label=_("label size"),
        choices=[("a4", _("A4 sheet (3 × 8, 70 × 37 mm)")), ("thermal", _("thermal 60 × 40 mm"))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = ShelvingUnit.objects.select_related("room")

    def clean(self):
        data = super().clean()
        if not data.get("unit") and not (data.get("codes") or "").strip():
            raise forms.ValidationError(_("Give codes or choose a shelving unit."))
        return data

    def clean_codes(self):
        codes = self.cleaned_data.get("codes") or ""
        labels.check_count(sum(1 for line in codes.splitlines() if line.strip()))
        return codes


class StocktakeForm(forms.Form):
    room = forms.ModelChoiceField(label=_("store room"), queryset=None)
    unit = forms.ModelChoiceField(
        label=_("shelving unit (optional)"), queryset=None, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["room"].queryset = StoreRoom.objects.all()
        self.fields["unit"].queryset = ShelvingUnit.objects.select_related("room")


class ShelvingUnitForm(forms.Form):
    """A new shelving unit in a store room (rules: ``services.create_shelving_unit``)."""

    code = forms.CharField(
        label=_("unit code"), max_length=8, help_text=_("1 to 8 letters or digits, e.g. 03.")
    )
    name = forms.CharField(label=_("unit name"), max_length=100, required=False)
    kind = forms.ChoiceField(label=_("shelving kind"), choices=ShelvingKind.choices)
    columns = forms.IntegerField(label=_("columns (列)"), min_value=1, max_value=99, initial=1)
    sections = forms.IntegerField(label=_("sections (节)"), min_value=1, max_value=99, initial=1)
    layers = forms.IntegerField(label=_("layers (层)"), min_value=1, max_value=99, initial=5)
    sides = forms.TypedChoiceField(
        label=_("sides"),
        coerce=int,
        choices=[(1, _("one side (A)")), (2, _("two sides (A and B)"))],
        initial=2,
    )
    position_capacity = forms.IntegerField(
        label=_("capacity per position"), min_value=1, max_value=1000, initial=20
    )


class BoxForm(forms.Form):
    """A new box (rules: ``boxes.create_box``)."""

    code = forms.CharField(label=_("box code"), max_length=64)
    fonds = forms.ModelChoiceField(label=_("fonds"), queryset=Fonds.objects.all())
    capacity = forms.IntegerField(
        label=_("box capacity"),
        min_value=1,
        max_value=1000,
        initial=20,
        help_text=_("Places: a volume or a loose item takes one."),
    )
    room = forms.ModelChoiceField(
        label=_("store room (optional)"), queryset=StoreRoom.objects.all(), required=False
    )
    position = forms.CharField(
        label=_("position code (optional)"),
        max_length=64,
        required=False,
        help_text=_("Scan or type the shelf code to shelve the box at once."),
    )
    notes = forms.CharField(label=_("notes"), max_length=200, required=False)


class BoxEditForm(forms.Form):
    """Rename a box, change its capacity or notes (rules: ``boxes.update_box``)."""

    code = forms.CharField(
        label=_("box code"), max_length=64, help_text=_("A new code needs a new label.")
    )
    capacity = forms.IntegerField(label=_("box capacity"), min_value=1, max_value=1000)
    notes = forms.CharField(label=_("notes"), max_length=200, required=False)


class BoxDeleteForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=200)


class BoxAddForm(forms.Form):
    codes = forms.CharField(
        label=_("reference codes (one per line)"),
        widget=forms.Textarea(attrs={"rows": 5, "autocomplete": "off"}),
        help_text=_("Scan or type the codes; if one is refused, nothing is put in."),
    )
    reason = forms.CharField(label=_("reason (optional)"), max_length=200, required=False)

    def clean_codes(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["codes"].splitlines() if line.strip()]


class BoxRemoveForm(forms.Form):
    codes = forms.MultipleChoiceField(
        label=_("records to take out"), widget=forms.CheckboxSelectMultiple
    )
    to_position = forms.CharField(
        label=_("put on position (optional)"),
        max_length=64,
        required=False,
        help_text=_("Empty: the records are in your hands, off the shelf."),
    )
    reason = forms.CharField(label=_("reason (optional)"), max_length=200, required=False)

    def __init__(self, *args, codes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["codes"].choices = [(code, code) for code in codes]
