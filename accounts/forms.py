"""Forms of the reader registration pages: parse at the edge; ``accounts.readers`` decides."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.choices import IdDocumentType, ReaderCategory


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class _IdentityFields(forms.Form):
    id_document_type = forms.ChoiceField(
        label=_("Identity document"), choices=IdDocumentType.choices
    )
    id_number = forms.CharField(
        label=_("Document number"),
        max_length=40,
        help_text=_("Only the last four characters are kept."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    id_document_expires = forms.DateField(
        label=_("Document valid until"),
        required=False,
        widget=_DateInput,
        help_text=_("Required for a resident identity card."),
    )


class RegistrationForm(_IdentityFields):
    username = forms.RegexField(
        label=_("User name"), max_length=40, regex=r"^[\w.@+-]{3,40}$", strip=True
    )
    real_name = forms.CharField(label=_("Real name"), max_length=100)
    email = forms.EmailField(label=_("E-mail"), required=False, max_length=254)
    phone = forms.RegexField(label=_("Phone"), required=False, regex=r"^[0-9+\- ]{5,30}$")
    password = forms.CharField(
        label=_("Password"), max_length=128, widget=forms.PasswordInput(render_value=False)
    )

    field_order = ["username", "real_name", "email", "phone", "password"]


class WalkInForm(_IdentityFields):
    username = forms.RegexField(
        label=_("User name"), max_length=40, regex=r"^[\w.@+-]{3,40}$", strip=True
    )
    real_name = forms.CharField(label=_("Real name"), max_length=100)
    category = forms.ChoiceField(label=_("Reader category"), choices=ReaderCategory.choices)
    unit_name = forms.CharField(label=_("Unit"), max_length=200, required=False)
    contact = forms.CharField(label=_("Contact"), max_length=200, required=False)
    phone = forms.RegexField(label=_("Phone"), required=False, regex=r"^[0-9+\- ]{5,30}$")
    email = forms.EmailField(label=_("E-mail"), required=False, max_length=254)
    introduction_letter = forms.FileField(label=_("Letter of introduction (scan)"), required=False)
    document_seen = forms.CharField(label=_("Document seen"), max_length=200, required=False)

    field_order = ["username", "real_name", "category", "unit_name", "contact", "phone", "email"]

    def clean_introduction_letter(self):
        upload = self.cleaned_data.get("introduction_letter")
        if upload is None:
            return None
        if upload.size > 10 * 1024 * 1024:
            raise forms.ValidationError(_("The scan may be at most 10 MB."))
        head = upload.read(8)
        upload.seek(0)
        if not (
            head.startswith(b"%PDF") or head.startswith(b"\xff\xd8") or head.startswith(b"\x89PNG")
        ):
            raise forms.ValidationError(_("Upload a PDF, JPEG or PNG scan."))
        return upload


class IdentityCheckForm(forms.Form):
    document_seen = forms.CharField(label=_("Document seen"), max_length=200)


class RenewIdentityForm(_IdentityFields):
    """A renewed identity document, registered at the desk."""
