"""Store rooms and shelves: positions, moves, where-is, occupancy, labels, shelving units."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import BaseViewSet
from repository import labels, services
from repository.api.roles import LocationManagers, StaffOnly
from repository.models import Move, Position, ShelvingUnit, StoreRoom
from repository.serializers import (
    LocationSerializer,
    MoveSerializer,
    PositionSerializer,
    ShelvingUnitInputSerializer,
    ShelvingUnitSerializer,
)


class PositionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    """Shelf positions in shelf order (staff)."""

    permission_classes = [StaffOnly]
    serializer_class = PositionSerializer

    def get_queryset(self):
        qs = Position.objects.visible_to(self.request.user).select_related("room", "unit")
        qs = qs.order_by("path")
        room = self.request.query_params.get("room")
        if room:
            qs = qs.filter(room__code=room)
        return qs


class MoveViewSet(mixins.ListModelMixin, BaseViewSet):
    """Recorded moves, newest first (staff; only moves of records they see)."""

    permission_classes = [StaffOnly]
    serializer_class = MoveSerializer

    def get_queryset(self):
        return Move.objects.visible_to(self.request.user).select_related(
            "from_position", "to_position", "moved_by"
        )


class WhereIsView(APIView):
    """Where is it: a record, box or position by its code (staff; hidden records not found)."""

    permission_classes = [StaffOnly]

    @extend_schema(
        parameters=[OpenApiParameter("code", str, required=True)], responses=LocationSerializer
    )
    def get(self, request):
        location = services.where_is(request.query_params.get("code", ""), user=request.user)
        if location is None:
            raise NotFound
        obj = location.obj
        is_record = location.kind in ("volume", "item")
        return Response(
            LocationSerializer(
                {
                    "kind": location.kind,
                    "code": obj.reference_code if is_record else obj.code,
                    "title": obj.title if is_record else "",
                    "record_id": obj.pk if is_record else None,
                    "position": location.position,
                    "label": str(location.position.label()) if location.position else "",
                }
            ).data
        )


class RoomOccupancyView(APIView):
    permission_classes = [StaffOnly]

    @extend_schema(
        responses=inline_serializer(
            "RoomOccupancy",
            {
                "room": serializers.CharField(),
                "capacity": serializers.IntegerField(),
                "used": serializers.IntegerField(),
                "percent": serializers.FloatField(),
            },
        )
    )
    def get(self, request, code: str):
        room = StoreRoom.objects.filter(code=code).first()
        if room is None:
            raise NotFound
        occ = services.room_occupancy(room)
        return Response(
            {
                "room": room.code,
                "capacity": occ["capacity"],
                "used": occ["used"],
                "percent": occ["percent"],
                "units": [
                    {"unit": u["unit"].code, "capacity": u["capacity"], "used": u["used"]}
                    for u in occ["units"]
                ],
            }
        )


class LabelsInputSerializer(serializers.Serializer):
    codes = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list
    )
    unit = serializers.IntegerField(required=False, allow_null=True, help_text="shelving unit id")
    size = serializers.ChoiceField(choices=["a4", "thermal"], default="a4")

    def validate_codes(self, codes: list[str]) -> list[str]:
        labels.check_count(len([code for code in codes if code.strip()]))
        return codes


class LabelsView(APIView):
    """A PDF of labels (code text, Code 128, QR) for codes or for a shelving unit's positions."""

    permission_classes = [StaffOnly]

    @extend_schema(request=LabelsInputSerializer, responses={(200, "application/pdf"): bytes})
    def post(self, request):
        serializer = LabelsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("unit"):
            unit = ShelvingUnit.objects.filter(pk=data["unit"]).select_related("room").first()
            if unit is None:
                raise NotFound
            entries = services.labels_for_unit(unit)
            labels.check_count(len(entries))
        else:
            if not data["codes"]:
                raise serializers.ValidationError({"codes": ["Give codes or a unit."]})
            entries, unknown = services.labels_for_codes(data["codes"], user=request.user)
            if unknown:
                raise serializers.ValidationError({"codes": [f"not found: {', '.join(unknown)}"]})
        return HttpResponse(
            labels.labels_pdf(entries, size=data["size"]), content_type="application/pdf"
        )


class LocationViewSet(BaseViewSet):
    """Staff read; keepers, archivists and administrators write."""

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [StaffOnly()]
        return [LocationManagers()]


class ShelvingUnitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, LocationViewSet):
    """Shelving units (fixed or mobile compact shelving 密集架); ``?room=<code>``. Creating one
    creates every position (sides × columns × sections × layers)."""

    serializer_class = ShelvingUnitSerializer

    def get_queryset(self):
        qs = ShelvingUnit.objects.select_related("room").annotate(position_count=Count("positions"))
        room = self.request.query_params.get("room")
        if room:
            qs = qs.filter(room__code=room)
        return qs.order_by("room__code", "code")

    @extend_schema(
        parameters=[OpenApiParameter("room", str, description="store room code")],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ShelvingUnitInputSerializer, responses=ShelvingUnitSerializer)
    def create(self, request):
        serializer = ShelvingUnitInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        room = StoreRoom.objects.filter(code=data.pop("room")).first()
        if room is None:
            raise serializers.ValidationError({"room": [_("No such store room.")]})
        unit = services.create_shelving_unit(room, acting_user=request.user, **data)
        unit = self.get_queryset().get(pk=unit.pk)
        return Response(ShelvingUnitSerializer(unit).data, status=status.HTTP_201_CREATED)
