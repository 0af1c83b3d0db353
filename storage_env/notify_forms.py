"""The form of a notification channel (administrators' page, storage_env/notify_views.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from repository.models import StoreRoom
from storage_env.choices import ChannelKind, NotificationEvent
from storage_env.models import NotificationChannel


class ChannelForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=NotificationEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=NotificationEvent.values,
        error_messages={"invalid_choice": _("Unknown event: %(value)s.")},
    )
    rooms = forms.ModelMultipleChoiceField(
        label=_("Store rooms"),
        queryset=StoreRoom.objects.order_by("code"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("None chosen: every store room."),
    )
    secret = forms.CharField(
        label=_("Signing secret"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_(
            "DingTalk robots with signing (加签) only: the SEC… string. "
            "Left empty when editing: the stored secret is kept."
        ),
    )
    clear_secret = forms.BooleanField(label=_("Remove the signing secret"), required=False)

    class Meta:
        model = NotificationChannel
        fields = [
            "name",
            "kind",
            "target",
            "secret",
            "rooms",
            "min_severity",
            "events",
            "language",
            "enabled",
        ]
        help_texts = {
            "target": _(
                "E-mail: addresses separated by commas. Webhook, WeCom, DingTalk: the robot's "
                "http(s) address (WeCom: …/cgi-bin/webhook/send?key=…; "
                "DingTalk: …/robot/send?access_token=…). With DingTalk keyword security, "
                "use the keyword 告警."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["events"] = self.instance.event_list
            self.initial["secret"] = ""
        else:
            del self.fields["clear_secret"]
        self.fields["kind"].choices = ChannelKind.choices

    def clean_events(self) -> str:
        return ",".join(v for v in NotificationEvent.values if v in self.cleaned_data["events"])

    def _post_clean(self) -> None:
        # A blank secret on an edit keeps the stored one: validate the instance with it.
        if self.instance.pk and not self.cleaned_data.get("secret"):
            self.cleaned_data["secret"] = self.instance.secret
        super()._post_clean()

    def service_values(self) -> dict[str, Any]:
        """Keyword arguments for notify.create_channel / update_channel."""
        values = {name: self.cleaned_data[name] for name in self.Meta.fields if name != "rooms"}
        values["rooms"] = list(self.cleaned_data["rooms"])
        if "clear_secret" in self.fields:
            values["clear_secret"] = self.cleaned_data["clear_secret"]
        return values
