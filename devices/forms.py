from django import forms
from django.utils.translation import gettext_lazy as _

from devices.choices import SensorIdFrom, SensorKind, SourceProfile
from repository.models import StoreRoom


class AssignSensorForm(forms.Form):
    room = forms.ModelChoiceField(queryset=StoreRoom.objects.order_by("code"), label=_("Room"))
    kind = forms.ChoiceField(choices=SensorKind.choices, label=_("Kind"))
    interval_seconds = forms.IntegerField(
        min_value=1, max_value=86400, initial=60, label=_("Reporting interval (s)")
    )


class SensorSourceForm(forms.Form):
    """The fields of a sensor source; the service checks that the mapping can work."""

    name = forms.CharField(max_length=64, label=_("Name"))
    enabled = forms.BooleanField(required=False, label=_("Enabled"))
    profile = forms.ChoiceField(choices=SourceProfile.choices, label=_("Profile"))
    topic_filters = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        label=_("Topic filters (one per line, wildcards + and #)"),
    )
    sensor_id_from = forms.ChoiceField(choices=SensorIdFrom.choices, label=_("Sensor id from"))
    sensor_id_level = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=11,
        label=_("Topic level of the sensor id (0 = first)"),
    )
    sensor_id_path = forms.CharField(
        required=False, max_length=200, label=_("Payload path of the sensor id")
    )
    sensor_id_prefix = forms.CharField(required=False, max_length=20, label=_("Sensor id prefix"))
    mapping = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 12}),
        label=_("Mapping over the profile (JSON)"),
    )

    def clean_mapping(self):
        value = self.cleaned_data.get("mapping")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The mapping is a JSON object."))
        return value
