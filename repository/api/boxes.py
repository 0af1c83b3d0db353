"""Boxes (档案盒): list, create, read, rename, delete, put records in, take out, move."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from repository import boxes
from repository.api.locations import LocationViewSet
from repository.models import Box, Fonds, StoreRoom
from repository.serializers import (
    BoxCodesSerializer,
    BoxDeleteSerializer,
    BoxDetailSerializer,
    BoxInputSerializer,
    BoxRemoveSerializer,
    BoxSerializer,
    BoxUpdateSerializer,
    MoveInputSerializer,
    MoveSerializer,
)


def _box_detail(box, user) -> dict:
    contents = boxes.box_contents(box, user)
    return BoxDetailSerializer(
        {
            "id": box.pk,
            "code": box.code,
            "fonds": box.fonds,
            "room": box.room,
            "position": box.position,
            "capacity": box.capacity,
            "used": contents.used,
            "notes": box.notes,
            "position_label": str(box.position.label()) if box.position_id else "",
            "contents": [
                {"kind": kind, "id": r.pk, "reference_code": r.reference_code, "title": r.title}
                for kind, r in contents.rows
            ],
            "hidden": contents.hidden,
        }
    ).data


class BoxViewSet(mixins.ListModelMixin, LocationViewSet):
    """Boxes (档案盒): list (``?room=``, ``?fonds=``, ``?code=`` prefix), create, read with the
    contents you may see (others are counted in ``hidden``), put records in and take them out
    by reference code (all or nothing), and move the box with everything in it."""

    serializer_class = BoxSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        qs = Box.objects.visible_to(self.request.user).select_related(
            "fonds", "room", "position__room", "position__unit"
        )
        params = self.request.query_params
        if params.get("room"):
            qs = qs.filter(room__code=params["room"])
        if params.get("fonds"):
            qs = qs.filter(fonds__code=params["fonds"])
        if params.get("code"):
            qs = qs.filter(code__startswith=params["code"][:64])
        return boxes.with_usage(qs).order_by("code")

    @extend_schema(
        parameters=[
            OpenApiParameter("room", str, description="store room code"),
            OpenApiParameter("fonds", str, description="fonds number"),
            OpenApiParameter("code", str, description="box code prefix"),
        ],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses=BoxDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(_box_detail(self.get_object(), request.user))

    @extend_schema(request=BoxInputSerializer, responses=BoxDetailSerializer)
    def create(self, request):
        serializer = BoxInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        fonds = Fonds.objects.filter(code=data.pop("fonds")).first()
        if fonds is None:
            raise serializers.ValidationError({"fonds": [_("No such fonds.")]})
        room = None
        room_code = data.pop("room", "")
        if room_code:
            room = StoreRoom.objects.filter(code=room_code).first()
            if room is None:
                raise serializers.ValidationError({"room": [_("No such store room.")]})
        box = boxes.create_box(
            acting_user=request.user,
            fonds=fonds,
            room=room,
            position=data.pop("position", "") or None,
            **data,
        )
        return Response(
            _box_detail(self.get_queryset().get(pk=box.pk), request.user),
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=BoxUpdateSerializer, responses=BoxDetailSerializer)
    def partial_update(self, request, pk=None):
        """Rename the box, change its capacity (not below the places in use) or notes."""
        box = self.get_object()
        serializer = BoxUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        boxes.update_box(box, acting_user=request.user, **serializer.validated_data)
        return Response(_box_detail(self.get_queryset().get(pk=box.pk), request.user))

    @extend_schema(
        parameters=[OpenApiParameter("reason", str, required=True, description="why")],
        request=None,
        responses={204: None},
    )
    def destroy(self, request, pk=None):
        """Delete an empty box (``?reason=``); the audit log keeps its code and its moves."""
        box = self.get_object()
        serializer = BoxDeleteSerializer(data={"reason": request.query_params.get("reason", "")})
        serializer.is_valid(raise_exception=True)
        boxes.delete_box(box, acting_user=request.user, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=BoxCodesSerializer, responses=BoxDetailSerializer)
    @action(detail=True, methods=["post"])
    def add(self, request, pk=None):
        """Put records into the box by reference code; one bad code refuses them all
        (``errors.codes`` has one message per code)."""
        box = self.get_object()
        serializer = BoxCodesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        boxes.put_in_box(data["codes"], box, acting_user=request.user, reason=data["reason"])
        return Response(_box_detail(self.get_queryset().get(pk=box.pk), request.user))

    @extend_schema(request=BoxRemoveSerializer, responses=BoxDetailSerializer)
    @action(detail=True, methods=["post"])
    def remove(self, request, pk=None):
        """Take records out by reference code: off the shelf, or onto ``to_position``."""
        box = self.get_object()
        serializer = BoxRemoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        boxes.take_out_of_box(
            data["codes"],
            box,
            acting_user=request.user,
            to_position=data["to_position"] or None,
            reason=data["reason"],
        )
        return Response(_box_detail(self.get_queryset().get(pk=box.pk), request.user))

    @extend_schema(request=MoveInputSerializer, responses=MoveSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move the box (empty ``to_position``: off the shelf); every record inside moves too."""
        box = self.get_object()
        serializer = MoveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        move = boxes.move_box(
            box,
            serializer.validated_data["to_position"] or None,
            acting_user=request.user,
            reason=serializer.validated_data["reason"],
        )
        return Response(MoveSerializer(move).data, status=status.HTTP_201_CREATED)
