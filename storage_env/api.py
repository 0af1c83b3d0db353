"""REST API of the storage_env app (the dashboard re-syncs from it). Adapters only."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.input import ID_MAX, parse_int
from storage_env import queries, services
from storage_env.access import access_alarm, access_room
from storage_env.choices import OPEN_STATES, AlarmState
from storage_env.models import Alarm
from storage_env.roles import can_watch_climate
from storage_env.serializers import (
    AlarmActionSerializer,
    AlarmSerializer,
    HistorySerializer,
    RoomStateSerializer,
)


class ClimateWatchers(permissions.BasePermission):
    """Keepers and administrators."""

    def has_permission(self, request, view) -> bool:
        return can_watch_climate(request.user)


class ClimateView(APIView):
    permission_classes = [permissions.IsAuthenticated, ClimateWatchers]


class RoomStatesView(ClimateView):
    @extend_schema(responses=RoomStateSerializer(many=True), summary="Current state of every room")
    def get(self, request):
        return Response(RoomStateSerializer(queries.room_states(), many=True).data)


class RoomHistoryView(ClimateView):
    @extend_schema(
        parameters=[OpenApiParameter("range", str, enum=list(queries.RANGES), required=False)],
        responses=HistorySerializer,
        summary="Readings (day) or aggregates (week, month, year) of a room",
    )
    def get(self, request, pk: int):
        room = access_room(request.user, pk)
        range_name = request.query_params.get("range", "day")
        if range_name not in queries.RANGES:
            return Response(
                {"detail": f"range must be one of {', '.join(queries.RANGES)}"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(HistorySerializer(queries.history(room, range_name)).data)


class AlarmListView(ClimateView):
    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=["open", *AlarmState.values], required=False),
            OpenApiParameter("room", int, required=False),
        ],
        responses=AlarmSerializer(many=True),
        summary="Alarms, newest first (at most 200)",
    )
    def get(self, request):
        alarms = Alarm.objects.visible_to(request.user).select_related("sensor", "acknowledged_by")
        state = request.query_params.get("state", "open")
        if state == "open":
            alarms = alarms.filter(state__in=OPEN_STATES)
        elif state in AlarmState.values:
            alarms = alarms.filter(state=state)
        else:
            return Response({"detail": "unknown state"}, status=status.HTTP_400_BAD_REQUEST)
        room = parse_int(
            request.query_params.get("room"), min_value=1, max_value=ID_MAX, field="room"
        )
        if room is not None:
            alarms = alarms.filter(room_id=room)
        return Response(AlarmSerializer(alarms[:200], many=True).data)


ACTIONS = {
    "acknowledge": services.acknowledge_alarm,
    "clear": services.clear_alarm_manually,
    "close": services.close_alarm,
}


class AlarmActionView(ClimateView):
    action_name = "acknowledge"

    @extend_schema(request=AlarmActionSerializer, responses=AlarmSerializer)
    def post(self, request, pk: int):
        alarm = access_alarm(request.user, pk)
        body = AlarmActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # An AlarmTransitionError is a core.errors.Conflict: a 409 from the exception handler.
        alarm = ACTIONS[self.action_name](
            alarm, acting_user=request.user, note=body.validated_data["note"]
        )
        return Response(AlarmSerializer(alarm).data)


api_urlpatterns: list = [
    path("climate/rooms/", RoomStatesView.as_view(), name="climate-rooms"),
    path("climate/rooms/<int:pk>/history/", RoomHistoryView.as_view(), name="climate-history"),
    path("climate/alarms/", AlarmListView.as_view(), name="climate-alarms"),
    *[
        path(
            f"climate/alarms/<int:pk>/{name}/",
            AlarmActionView.as_view(action_name=name),
            name=f"climate-alarm-{name}",
        )
        for name in ACTIONS
    ],
]
