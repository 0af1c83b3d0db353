"""API representations of the sensor registry, discovered sensors and dead letters."""

from __future__ import annotations

import base64
import math

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from devices.choices import SensorKind
from devices.models import DeadLetter, DiscoveredSensor, Sensor
from repository.models import StoreRoom


class SensorSerializer(serializers.ModelSerializer):
    # Plain strings in the schema (with the values listed): "kind"/"status" enums would clash
    # with other apps' enums of the same field names.
    kind = serializers.CharField(read_only=True, help_text="climate, surface, leak, smoke, door")
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    status = serializers.CharField(read_only=True, help_text="unknown, online, offline")
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    room_code = serializers.CharField(source="room.code", default=None, read_only=True)

    class Meta:
        model = Sensor
        fields = [
            "id",
            "sensor_id",
            "kind",
            "kind_label",
            "room",
            "room_code",
            "location_note",
            "temperature_offset",
            "humidity_offset",
            "interval_seconds",
            "enabled",
            "status",
            "status_label",
            "status_changed_at",
            "last_seen",
            "battery",
            "firmware",
            "created_at",
        ]
        read_only_fields = fields


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise serializers.ValidationError(_("Enter a finite number."))
    return value


class SensorCalibrationSerializer(serializers.Serializer):
    """PATCH body: either offset or both; ranges as on the model."""

    temperature_offset = serializers.FloatField(
        required=False, min_value=-10, max_value=10, validators=[_finite], help_text="°C"
    )
    humidity_offset = serializers.FloatField(
        required=False, min_value=-20, max_value=20, validators=[_finite], help_text="%RH"
    )

    def validate(self, attrs):
        unknown = set(getattr(self, "initial_data", {})) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {field: [_("This field cannot be changed here.")] for field in sorted(unknown)}
            )
        if not attrs:
            raise serializers.ValidationError(
                _("Give temperature_offset, humidity_offset or both.")
            )
        return attrs


class DiscoveredSensorSerializer(serializers.ModelSerializer):
    class Meta:
        model = DiscoveredSensor
        fields = [
            "id",
            "sensor_id",
            "first_seen",
            "last_seen",
            "message_count",
            "last_topic",
            "last_payload",
        ]
        read_only_fields = fields


class RegisterSensorSerializer(serializers.Serializer):
    """Assign a discovered sensor id to a store room."""

    room = serializers.PrimaryKeyRelatedField(
        queryset=StoreRoom.objects.all(), help_text="store room id"
    )
    kind = serializers.ChoiceField(choices=SensorKind.choices, default=SensorKind.CLIMATE)
    interval_seconds = serializers.IntegerField(min_value=1, max_value=86400, default=60)


class DeadLetterSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(read_only=True, help_text="a DeadLetterReason value")
    reason_label = serializers.CharField(source="get_reason_display", read_only=True)
    payload_preview = serializers.SerializerMethodField(
        help_text="the first 500 bytes as text (invalid UTF-8 replaced)"
    )

    class Meta:
        model = DeadLetter
        fields = [
            "id",
            "received_at",
            "topic",
            "sensor_id",
            "reason",
            "reason_label",
            "detail",
            "payload_size",
            "payload_preview",
        ]
        read_only_fields = fields

    def get_payload_preview(self, obj: DeadLetter) -> str:
        head = getattr(obj, "payload_head", None)  # the list annotates it (see the API)
        if head is None:
            head = obj.payload[:500]
        return bytes(head).decode("utf-8", errors="replace")


class DeadLetterDetailSerializer(DeadLetterSerializer):
    payload_base64 = serializers.SerializerMethodField(
        help_text="the raw payload as kept (first 64 KiB), base64"
    )

    class Meta(DeadLetterSerializer.Meta):
        fields = [*DeadLetterSerializer.Meta.fields, "payload_base64"]
        read_only_fields = fields

    def get_payload_base64(self, obj: DeadLetter) -> str:
        return base64.b64encode(bytes(obj.payload)).decode("ascii")
