"""REST API of the devices app: the sensor registry (keepers and administrators read,
administrators change), discovered sensors and dead letters (administrators). Adapters only:
one access helper and one service per write."""

from __future__ import annotations

from django.db.models import BinaryField
from django.db.models.functions import Substr
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import BaseViewSet, router
from core.input import ID_MAX, parse_int
from devices import access, services
from devices.choices import DeadLetterReason, SensorKind, SensorStatus
from devices.models import DeadLetter, DiscoveredSensor, Sensor
from devices.serializers import (
    DeadLetterDetailSerializer,
    DeadLetterSerializer,
    DiscoveredSensorSerializer,
    RegisterSensorSerializer,
    SensorCalibrationSerializer,
    SensorSerializer,
)


class SensorReaders(permissions.BasePermission):
    """Keepers and administrators."""

    def has_permission(self, request, view) -> bool:
        return access.can_read_sensors(request.user)


class SensorManagers(permissions.BasePermission):
    """Administrators."""

    def has_permission(self, request, view) -> bool:
        return access.can_manage_sensors(request.user)


def _choice_filter(request, name: str, choices) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if value not in choices:
        raise serializers.ValidationError(
            {name: [_("Choose one of: %(values)s.") % {"values": ", ".join(choices)}]}
        )
    return value


SENSOR_FILTERS = [
    OpenApiParameter("room", int, description="store room id"),
    OpenApiParameter("kind", str, enum=SensorKind.values),
    OpenApiParameter("status", str, enum=SensorStatus.values),
    OpenApiParameter("enabled", bool),
    OpenApiParameter("q", str, description="start of the sensor id"),
]


class SensorViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    """The sensor registry. Read: keepers and administrators. Change calibration, enable,
    disable: administrators (the ingest worker applies it from its next batch)."""

    serializer_class = SensorSerializer
    lookup_value_regex = r"\d+"
    queryset = Sensor.objects.none()

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [permissions.IsAuthenticated(), SensorReaders()]
        return [permissions.IsAuthenticated(), SensorManagers()]

    def get_queryset(self):
        params = self.request.query_params
        qs = Sensor.objects.select_related("room").order_by("sensor_id")
        room = parse_int(params.get("room"), min_value=1, max_value=ID_MAX, field="room")
        if room is not None:
            qs = qs.filter(room_id=room)
        kind = _choice_filter(self.request, "kind", SensorKind.values)
        if kind:
            qs = qs.filter(kind=kind)
        state = _choice_filter(self.request, "status", SensorStatus.values)
        if state:
            qs = qs.filter(status=state)
        enabled = _choice_filter(self.request, "enabled", ["true", "false"])
        if enabled:
            qs = qs.filter(enabled=enabled == "true")
        prefix = params.get("q", "")[:64]
        if prefix:
            qs = qs.filter(sensor_id__startswith=prefix)
        return qs

    def get_object(self):
        return access.access_sensor(self.request.user, self.kwargs["pk"])

    @extend_schema(parameters=SENSOR_FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=SensorCalibrationSerializer, responses=SensorSerializer)
    def partial_update(self, request, pk=None):
        """Calibration offsets (°C, %RH)."""
        sensor = access.access_sensor_for_change(request.user, pk)
        body = SensorCalibrationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        sensor = services.update_sensor_calibration(
            sensor, acting_user=request.user, **body.validated_data
        )
        return Response(SensorSerializer(sensor).data)

    @extend_schema(request=None, responses=SensorSerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        sensor = access.access_sensor_for_change(request.user, pk)
        sensor = services.set_sensor_enabled(sensor, True, acting_user=request.user)
        return Response(SensorSerializer(sensor).data)

    @extend_schema(request=None, responses=SensorSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        """Messages of a disabled sensor go to the dead letters."""
        sensor = access.access_sensor_for_change(request.user, pk)
        sensor = services.set_sensor_enabled(sensor, False, acting_user=request.user)
        return Response(SensorSerializer(sensor).data)


class DiscoveredSensorViewSet(mixins.ListModelMixin, BaseViewSet):
    """Sensor ids that published but are not registered, most recent first (administrators);
    ``register`` assigns one to a store room."""

    serializer_class = DiscoveredSensorSerializer
    permission_classes = [permissions.IsAuthenticated, SensorManagers]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return DiscoveredSensor.objects.order_by("-last_seen", "-id")

    @extend_schema(request=RegisterSensorSerializer, responses={201: SensorSerializer})
    @action(detail=True, methods=["post"])
    def register(self, request, pk=None):
        discovered = access.access_discovered(request.user, pk)
        body = RegisterSensorSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        sensor = services.register_discovered_sensor(
            discovered, acting_user=request.user, **body.validated_data
        )
        return Response(SensorSerializer(sensor).data, status=status.HTTP_201_CREATED)


class DeadLetterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    """Messages the ingest worker rejected, with the reason, newest first (administrators)."""

    permission_classes = [permissions.IsAuthenticated, SensorManagers]
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        return DeadLetterDetailSerializer if self.action == "retrieve" else DeadLetterSerializer

    def get_queryset(self):
        qs = DeadLetter.objects.order_by("-received_at", "-id")
        if self.action == "list":
            # a page of previews, not a page of payloads of up to 64 KiB each
            qs = qs.defer("payload").annotate(
                payload_head=Substr("payload", 1, 500, output_field=BinaryField())
            )
            reason = _choice_filter(self.request, "reason", DeadLetterReason.values)
            if reason:
                qs = qs.filter(reason=reason)
            sensor_id = self.request.query_params.get("sensor_id", "")[:64]
            if sensor_id:
                qs = qs.filter(sensor_id=sensor_id)
        return qs

    @extend_schema(
        parameters=[
            OpenApiParameter("reason", str, enum=DeadLetterReason.values),
            OpenApiParameter("sensor_id", str),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


router.register("sensors", SensorViewSet, basename="sensor")
router.register("sensors/discovered", DiscoveredSensorViewSet, basename="discovered-sensor")
router.register("sensors/dead-letters", DeadLetterViewSet, basename="dead-letter")

api_urlpatterns: list = []
