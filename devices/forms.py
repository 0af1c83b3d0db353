from django import forms
from django.utils.translation import gettext_lazy as _

from devices.choices import SensorKind
from repository.models import StoreRoom


class AssignSensorForm(forms.Form):
    room = forms.ModelChoiceField(queryset=StoreRoom.objects.order_by("code"), label=_("Room"))
    kind = forms.ChoiceField(choices=SensorKind.choices, label=_("Kind"))
    interval_seconds = forms.IntegerField(
        min_value=1, max_value=86400, initial=60, label=_("Reporting interval (s)")
    )
