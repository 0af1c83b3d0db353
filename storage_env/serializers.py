from __future__ import annotations

from rest_framework import serializers

from storage_env.choices import device_code_label
from storage_env.models import Alarm


class AlarmSerializer(serializers.ModelSerializer):
    sensor_id = serializers.CharField(source="sensor.sensor_id", default=None, read_only=True)
    rule_label = serializers.CharField(source="get_rule_display", read_only=True)
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", default=None, read_only=True
    )
    code_label = serializers.SerializerMethodField(
        help_text="the device alarm code in words (empty for climate rules)"
    )
    message = serializers.CharField(
        source="display_message",
        read_only=True,
        help_text="the alarm's text in the reader's language (a device's own text as sent)",
    )
    message_code = serializers.CharField(
        read_only=True, help_text="the text's message code; empty for text shown as sent"
    )
    message_params = serializers.JSONField(
        read_only=True, help_text="the parameters of the message code"
    )
    # Plain strings in the schema: a "state" enum here would clash with other apps' enum names.
    state = serializers.CharField(read_only=True, help_text="raised, acknowledged, cleared, closed")

    class Meta:
        model = Alarm
        fields = [
            "id",
            "rule",
            "rule_label",
            "subject",
            "room",
            "sensor_id",
            "severity",
            "state",
            "message",
            "message_code",
            "message_params",
            "value",
            "code",
            "code_label",
            "raised_at",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledge_note",
            "cleared_at",
            "closed_at",
            "escalation_level",
        ]
        read_only_fields = fields

    def get_code_label(self, alarm: Alarm) -> str:
        return device_code_label(alarm.code)


class AlarmActionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RoomStateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    template = serializers.CharField()
    template_label = serializers.CharField()
    temperature = serializers.FloatField(allow_null=True)
    humidity = serializers.FloatField(allow_null=True)
    dew_point = serializers.FloatField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    state = serializers.CharField(help_text="ok, warning, critical or unknown")
    range = serializers.DictField(child=serializers.FloatField())
    open_alarms = serializers.ListField(child=serializers.DictField())


class HistorySerializer(serializers.Serializer):
    room = serializers.IntegerField()
    range = serializers.CharField(help_text="day, week, month or year")
    bucket = serializers.CharField(help_text="raw, 5m, 1h or 1d (days of the time zone)")
    since = serializers.CharField(help_text="start of the range (ISO 8601, archive time zone)")
    until = serializers.CharField(help_text="end of the range (ISO 8601, archive time zone)")
    time_zone = serializers.CharField(help_text="the archive's time zone, e.g. Asia/Shanghai")
    limits = serializers.DictField(child=serializers.FloatField())
    points = serializers.ListField(
        child=serializers.DictField(),
        help_text=(
            "in time order: sensor, ts, temperature, humidity (and their _min/_max over a "
            "bucket); a point with gap=true and null values marks missing data"
        ),
    )
