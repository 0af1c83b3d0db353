"""Stocktakes (盘点): open, record scans, close with a discrepancy report."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import BaseViewSet
from repository import stocktake
from repository.api.roles import StocktakeRoles
from repository.models import ShelvingUnit, Stocktake, StoreRoom
from repository.stocktake import report_for


class StocktakeSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    room = serializers.CharField(source="room.code", read_only=True)
    unit = serializers.CharField(source="unit.code", read_only=True, default=None)
    status = serializers.CharField(read_only=True)
    opened_at = serializers.DateTimeField(read_only=True)
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    report = serializers.JSONField(read_only=True, allow_null=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["report"] = report_for(data["report"], self.context["request"].user)
        return data


class StocktakeOpenSerializer(serializers.Serializer):
    room = serializers.CharField(help_text="store room code")
    unit = serializers.CharField(required=False, allow_blank=True, help_text="unit code")


class StocktakeScanSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    position = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="shelf code where it stands"
    )


class StocktakeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    """Stocktakes: open, record scans, close with a discrepancy report."""

    permission_classes = [StocktakeRoles]
    serializer_class = StocktakeSerializer

    def get_queryset(self):
        return Stocktake.objects.select_related("room", "unit")

    @extend_schema(request=StocktakeOpenSerializer, responses=StocktakeSerializer)
    def create(self, request):
        serializer = StocktakeOpenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        room = StoreRoom.objects.filter(code=serializer.validated_data["room"]).first()
        if room is None:
            raise serializers.ValidationError({"room": ["No such store room."]})
        unit = None
        if serializer.validated_data.get("unit"):
            unit = ShelvingUnit.objects.filter(
                room=room, code=serializer.validated_data["unit"]
            ).first()
            if unit is None:
                raise serializers.ValidationError({"unit": ["No such unit in this room."]})
        opened = stocktake.open_stocktake(room, acting_user=request.user, unit=unit)
        return Response(
            StocktakeSerializer(opened, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=StocktakeScanSerializer,
        responses=inline_serializer(
            "StocktakeScanResult",
            {
                "kind": serializers.CharField(),
                "code": serializers.CharField(required=False),
                "position": serializers.CharField(),
            },
        ),
    )
    @action(detail=True, methods=["post"])
    def scan(self, request, pk=None):
        current = self.get_object()
        serializer = StocktakeScanSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = stocktake.record_scan(
            current,
            serializer.validated_data["code"],
            acting_user=request.user,
            position=serializer.validated_data.get("position") or None,
        )
        return Response(result)

    @extend_schema(request=None, responses=StocktakeSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        current = self.get_object()
        stocktake.close_stocktake(current, acting_user=request.user)
        current.refresh_from_db()
        return Response(self.get_serializer(current).data)
