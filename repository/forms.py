"""Forms: they parse and show errors; the rules live in repository.services."""

from __future__ import annotations

from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from accounts.choices import Classification
from repository import codes, labels
from repository import retention as retention_codes
from repository.choices import AccessStatus, Carrier, OpeningDecision, Retention, ShelvingKind
from repository.models import Category, Fonds, ShelvingUnit, StoreRoom, Volume
from repository.validation import MANDATORY


class CategorySelect(forms.Select):
    """Options carry their fonds (``data-fonds``) so the page can show only the categories of
    the chosen fonds (static/repository/record-form.js)."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-fonds"] = str(instance.fonds_id)
        return option


class CategoryChoiceField(forms.ModelChoiceField):
    """门类 labelled with their fonds ("J012 市档案局 · WS 文书"): five fonds' "WS 文书" are
    five different categories."""

    widget = CategorySelect

    def label_from_instance(self, obj) -> str:
        path = codes.category_path(obj)
        return f"{obj.fonds.code} {obj.fonds.name} · {path} {obj.name}"


class RecordForm(forms.Form):
    reference_code = forms.CharField(
        label=_("reference code"),
        max_length=64,
        required=False,
        help_text=_("Leave empty to assign the next code of the fonds' pattern."),
    )
    title = forms.CharField(label=_("title"), max_length=500, required=False)
    document_number = forms.CharField(
        label=_("document number"),
        max_length=100,
        required=False,
        help_text=_("Give it when the document has one (DA/T 18-2022), e.g. 某档发〔2019〕12号."),
    )
    creator = forms.CharField(label=_("creator"), max_length=200, required=False)
    date = forms.CharField(
        label=_("date"),
        max_length=40,
        required=False,
        help_text=_(
            "As archivists write it: 20190601, 2019/6/1, 2019-06, 19490000 (month and day "
            "unknown), a range 19980101-20031231 or 1998-2003, [19450815] for a date "
            "established by the archivist."
        ),
    )
    pages = forms.CharField(label=_("pages"), max_length=10, required=False)
    retention = forms.ChoiceField(label=_("retention"), choices=Retention.choices)
    classification = forms.TypedChoiceField(
        label=_("classification"), choices=Classification.choices, coerce=int
    )
    secrecy_period = forms.CharField(
        label=_("secrecy period"),
        max_length=20,
        required=False,
        help_text=_("For classified records: years (10年), an end date (20301231) or 长期."),
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
    project_code = forms.CharField(
        label=_("project number"),
        max_length=20,
        required=False,
        help_text=_("Only where the fonds' code pattern has a 项目号."),
    )
    catalogue_number = forms.CharField(
        label=_("catalogue number"),
        max_length=10,
        required=False,
        help_text=_("Only where the fonds' code pattern has a 目录号."),
    )

    def __init__(self, *args, kind: str = "item", **kwargs):
        super().__init__(*args, **kwargs)
        # A record's own period stays choosable (D5, or a legacy 长期 kept as found).
        current = str((self.initial or {}).get("retention") or "")
        self.fields["retention"].choices = retention_codes.choices_with(current)
        # Mark the mandatory elements (DA/T 18-2022, repository.validation.MANDATORY); the
        # services still check them and name each missing one.
        for name in MANDATORY[kind]:
            element = "date" if name == "date" else name
            if element in self.fields:
                self.fields[element].mandatory = True
                self.fields[element].widget.attrs["aria-required"] = "true"

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
    category = CategoryChoiceField(label=_("category"), queryset=Category.objects.none())
    # 案卷 by its reference code (type-ahead from repository:staff-volume-lookup), not an id.
    volume = forms.ModelChoiceField(
        label=_("volume"),
        queryset=Volume.objects.none(),
        required=False,
        to_field_name="reference_code",
        error_messages={"invalid_choice": _("No volume with this reference code.")},
    )

    field_order = ["fonds", "category", "volume"]

    def __init__(self, *args, fonds_qs, kind: str, **kwargs):
        super().__init__(*args, kind=kind, **kwargs)
        self.fields["fonds"].queryset = fonds_qs
        self.fields["fonds"].mandatory = True
        self.fields["category"].queryset = Category.objects.filter(
            fonds__in=fonds_qs
        ).select_related("fonds", "parent")
        self.fields["category"].mandatory = True
        if kind == "item":
            self.fields["volume"].queryset = Volume.objects.filter(fonds__in=fonds_qs)
            self.fields["volume"].widget = forms.TextInput(
                attrs={
                    "list": "volume-codes",
                    "autocomplete": "off",
                    "data-lookup-url": reverse_lazy("repository:staff-volume-lookup"),
                }
            )
            self.fields["volume"].help_text = _(
                "Type the volume's reference code (optional): matching volumes are offered."
            )
        else:
            del self.fields["volume"]

    def clean(self):
        cleaned = super().clean()
        fonds, category = cleaned.get("fonds"), cleaned.get("category")
        if fonds and category and category.fonds_id != fonds.pk:
            self.add_error("category", _("The category belongs to another fonds."))
        volume = cleaned.get("volume")
        if volume and category and volume.category_id != category.pk:
            self.add_error("volume", _("The volume belongs to another fonds or category."))
        return cleaned


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


class PageReplaceForm(forms.Form):
    image = forms.FileField(label=_("new scan (JPEG, PNG or TIFF)"))


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


class FondsDescriptionForm(forms.Form):
    """Fonds-level description (DA/T 18-2022 全宗级). Checked by ``schemes.update_fonds``."""

    name = forms.CharField(label=_("fonds name"), max_length=200)
    creating_body = forms.CharField(label=_("creating body"), max_length=200, required=False)
    archive_code = forms.CharField(label=_("archive code"), max_length=20, required=False)
    start_year = forms.CharField(label=_("first year"), max_length=4, required=False)
    end_year = forms.CharField(label=_("last year"), max_length=4, required=False)
    administrative_history = forms.CharField(
        label=_("administrative history"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    custodial_history = forms.CharField(
        label=_("custodial history"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # DA/T 18-2022 著录项目清单, 全宗级: 档案馆代码 and 档案保管沿革 are 必著.
        for name in ("name", "archive_code", "custodial_history"):
            self.fields[name].mandatory = True


class CodePatternForm(forms.Form):
    """The fonds' 档号 templates (repository/codes.py); empty keeps the default."""

    volume = forms.CharField(
        label=_("volume code pattern"),
        max_length=200,
        required=False,
        help_text=_("e.g. {fonds}-{category}·{year}-{retention}-{volume:4}"),
    )
    item = forms.CharField(
        label=_("item code pattern"),
        max_length=200,
        required=False,
        help_text=_("e.g. {fonds}-{category}·{year}·{retention}·{unit}-{item:4}"),
    )
    item_in_volume = forms.CharField(
        label=_("code pattern of items in volumes"),
        max_length=200,
        required=False,
        help_text=_("e.g. {volume_code}-{item:3}"),
    )


class CategoryForm(forms.Form):
    code = forms.CharField(label=_("category code"), max_length=10)
    name = forms.CharField(label=_("category name"), max_length=100)
    parent = forms.ModelChoiceField(
        label=_("parent category"), queryset=Category.objects.none(), required=False
    )

    def __init__(self, *args, fonds, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = Category.objects.filter(fonds=fonds)
        self.fields["code"].mandatory = self.fields["name"].mandatory = True

    add_service_errors = RecordForm.add_service_errors
