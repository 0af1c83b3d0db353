"""REST API of the repository app (``/api/v1/``). Every list and detail goes through
``visible_to(request.user)``; writes call one service each; missing and forbidden are 404."""

from __future__ import annotations

from django.db.models import Count, Q
from django.http import HttpResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import BaseViewSet, router
from repository import access, boxes, images, import_jobs, labels, listing, services, stocktake
from repository.models import (
    Box,
    Fonds,
    Item,
    Move,
    Position,
    ShelvingUnit,
    Stocktake,
    StoreRoom,
    Volume,
)
from repository.serializers import (
    BoxCodesSerializer,
    BoxDeleteSerializer,
    BoxDetailSerializer,
    BoxInputSerializer,
    BoxRemoveSerializer,
    BoxSerializer,
    BoxUpdateSerializer,
    DecisionSerializer,
    LocationSerializer,
    MoveInputSerializer,
    MoveSerializer,
    PositionSerializer,
    RecordInputSerializer,
    RecordSerializer,
    RenumberSerializer,
    ShelvingUnitInputSerializer,
    ShelvingUnitSerializer,
    StaffRecordSerializer,
)
from repository.stocktake import report_for


class KeysetPagination:
    """``?after=<reference code>&size=N``; the response carries ``next`` (no total count)."""

    def paginate(self, request, qs):
        page = listing.keyset_page(
            qs,
            after=request.query_params.get("after", "")[:64],
            size=listing.page_size(request.query_params),
        )
        next_url = None
        if page.next_after:
            query = request.query_params.copy()
            query["after"] = page.next_after
            next_url = request.build_absolute_uri(request.path + "?" + query.urlencode())
        return page.rows, next_url


LIST_PARAMETERS = [
    OpenApiParameter("after", str, description="reference code of the last row seen"),
    OpenApiParameter("size", int, description="rows per page (at most 200)"),
    OpenApiParameter("fonds", str, description="fonds number"),
    OpenApiParameter("category", int),
    OpenApiParameter("access_status", str),
    OpenApiParameter("year", int, description="filing year"),
    OpenApiParameter("q", str, description="title words or a reference-code prefix"),
]


class RecordViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, BaseViewSet
):
    """Volumes or items of the catalogue, as far as the caller may see them."""

    kind = "item"
    permission_classes = [permissions.AllowAny]
    lookup_value_regex = r"\d+"

    def get_permissions(self):
        if self.action in ("list", "retrieve") or (
            self.action == "pages" and self.request.method == "GET"
        ):
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    def get_serializer_class(self):
        if self.action in ("create", "partial_update"):
            return RecordInputSerializer
        if self.request is not None and access.is_staff_viewer(self.request.user):
            return StaffRecordSerializer
        return RecordSerializer

    def get_queryset(self):
        filters = listing.Filters.from_query(self.request.query_params, default_kind=self.kind)
        filters.kind = self.kind
        return listing.visible_records(self.request.user, filters).select_related(
            "fonds", "category", "position"
        )

    def get_object(self):
        record = access.access_record(self.request.user, self.kind, self.kwargs["pk"])
        services.record_classified_view(record, acting_user=self.request.user)
        return record

    @extend_schema(parameters=LIST_PARAMETERS)
    def list(self, request, *args, **kwargs):
        rows, next_url = KeysetPagination().paginate(request, self.get_queryset())
        serializer_class = self.get_serializer_class()
        return Response({"next": next_url, "results": serializer_class(rows, many=True).data})

    @extend_schema(request=RecordInputSerializer, responses=StaffRecordSerializer)
    def create(self, request):
        serializer = RecordInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = services.create_record(
            self.kind,
            dict(serializer.validated_data),
            acting_user=request.user,
        )
        return Response(StaffRecordSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RecordInputSerializer, responses=StaffRecordSerializer)
    def partial_update(self, request, pk=None):
        record = access.access_record_for_change(request.user, self.kind, pk)
        serializer = RecordInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = {
            k: v
            for k, v in serializer.validated_data.items()
            if k not in ("fonds", "category", "volume")
        }
        record = services.update_record(record, changes, acting_user=request.user)
        return Response(StaffRecordSerializer(record).data)

    def destroy(self, request, pk=None):
        record = access.access_record_for_change(request.user, self.kind, pk)
        services.delete_record(record, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=RenumberSerializer, responses=StaffRecordSerializer)
    @action(detail=True, methods=["post"])
    def renumber(self, request, pk=None):
        record = access.access_record_for_change(request.user, self.kind, pk)
        serializer = RenumberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = services.renumber_record(
            record,
            serializer.validated_data["new_code"],
            acting_user=request.user,
            reason=serializer.validated_data["reason"],
        )
        return Response(StaffRecordSerializer(record).data)

    @extend_schema(request=MoveInputSerializer, responses=MoveSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        record = access.access_record(request.user, self.kind, pk)
        if not access.is_staff_viewer(request.user):
            raise NotFound
        serializer = MoveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        move = services.move_record(
            record,
            serializer.validated_data["to_position"] or None,
            acting_user=request.user,
            reason=serializer.validated_data["reason"],
        )
        return Response(MoveSerializer(move).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DecisionSerializer, responses=StaffRecordSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Opening review decision: open / controlled (reason, next_review_on) / partial."""
        record = access.access_record_for_change(request.user, self.kind, pk)
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.decide_opening(
            record,
            data["decision"],
            acting_user=request.user,
            reason=data["reason"],
            next_review_on=data["next_review_on"],
            withheld_pages=data["withheld_pages"],
        )
        record.refresh_from_db()
        return Response(StaffRecordSerializer(record).data)


class DigitalPageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    page_number = serializers.IntegerField()
    format = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    withheld = serializers.BooleanField()
    thumbnail_url = serializers.CharField()
    web_url = serializers.CharField()


class PageUploadSerializer(serializers.Serializer):
    image = serializers.FileField()
    page_number = serializers.IntegerField(required=False, min_value=1)


def _page_data(request, page) -> dict:
    return {
        "id": page.pk,
        "page_number": page.page_number,
        "format": page.format,
        "width": page.width,
        "height": page.height,
        "withheld": page.withheld,
        "thumbnail_url": request.build_absolute_uri(
            reverse("repository:page-image", args=[page.pk, "thumb"])
        ),
        "web_url": request.build_absolute_uri(
            reverse("repository:page-image", args=[page.pk, "web"])
        ),
    }


class PagesMixin:
    @extend_schema(methods=["GET"], request=None, responses=DigitalPageSerializer(many=True))
    @extend_schema(methods=["POST"], request=PageUploadSerializer, responses=DigitalPageSerializer)
    @action(detail=True, methods=["get", "post"])
    def pages(self, request, pk=None):
        """Digitised pages: list (withheld pages only for staff of the fonds); upload a scan
        (JPEG, PNG or TIFF; archivists who may change the fonds)."""
        if request.method == "POST":
            record = access.access_record_for_change(request.user, self.kind, pk)
            serializer = PageUploadSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            page = images.add_digital_page(
                record,
                serializer.validated_data["image"],
                acting_user=request.user,
                page_number=serializer.validated_data.get("page_number"),
            )
            return Response(_page_data(request, page), status=status.HTTP_201_CREATED)
        record = access.access_record(request.user, self.kind, pk)
        pages = record.pages_digitised.all()
        if not access.sees_fonds(request.user, record.fonds_id):
            pages = pages.filter(withheld=False)
        return Response([_page_data(request, p) for p in pages[:1000]])


class VolumeViewSet(PagesMixin, RecordViewSet):
    kind = "volume"
    queryset = Volume.objects.none()


class ItemViewSet(PagesMixin, RecordViewSet):
    kind = "item"
    queryset = Item.objects.none()


class StaffOnly(permissions.BasePermission):
    def has_permission(self, request, view):
        return access.is_staff_viewer(request.user)


class PositionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    """Shelf positions in shelf order (staff)."""

    permission_classes = [StaffOnly]
    serializer_class = PositionSerializer

    def get_queryset(self):
        qs = Position.objects.select_related("room", "unit").order_by("path")
        room = self.request.query_params.get("room")
        if room:
            qs = qs.filter(room__code=room)
        return qs


class MoveViewSet(mixins.ListModelMixin, BaseViewSet):
    """Recorded moves, newest first (staff; only moves of records they see)."""

    permission_classes = [StaffOnly]
    serializer_class = MoveSerializer

    def get_queryset(self):
        user = self.request.user
        return Move.objects.select_related("from_position", "to_position", "moved_by").filter(
            Q_visible_moves(user)
        )


def Q_visible_moves(user):
    return (
        Q(volume__in=Volume.objects.visible_to(user).values("pk"))
        | Q(item__in=Item.objects.visible_to(user).values("pk"))
        | Q(box__isnull=False)
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


class ReviewQueueView(APIView):
    """Records due for opening review in the fonds the caller may change."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        responses=inline_serializer("ReviewQueue", {"results": RecordSerializer(many=True)})
    )
    def get(self, request):
        fonds_ids = [f.pk for f in Fonds.objects.all() if access.can_review(request.user, f)]
        rows = []
        for model in (Volume, Item):
            queue = services.review_queue_for(model).filter(fonds_id__in=fonds_ids)
            rows += list(queue.visible_to(request.user).select_related("fonds", "category")[:100])
        return Response({"results": StaffRecordSerializer(rows, many=True).data})


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


class StocktakeRoles(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(
            user and user.is_authenticated and user.has_role("keeper", "archivist", "administrator")
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


class LocationManagers(permissions.BasePermission):
    """Keepers, archivists and administrators (shelving units and boxes)."""

    def has_permission(self, request, view):
        return access.can_manage_locations(request.user)


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
        qs = Box.objects.select_related("fonds", "room", "position__room", "position__unit")
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


class ImportRoles(permissions.BasePermission):
    """Catalogue imports: archivists and administrators (a job itself: its owner or an admin)."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_role("archivist", "administrator"))


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="catalogue file (.csv or .xlsx)")
    kind = serializers.RegexField(r"^(item|volume)$", default="item", help_text="item or volume")
    encoding = serializers.ChoiceField(
        choices=["", "utf-8-sig", "gb18030"], default="", help_text="empty: detect UTF-8 or GBK"
    )
    all_or_nothing = serializers.BooleanField(default=False)
    dry_run = serializers.BooleanField(default=True, help_text="check only, write nothing")


class ImportJobSerializer(serializers.Serializer):
    id = serializers.CharField()
    mode = serializers.CharField(help_text="dry_run or commit")
    state = serializers.CharField(help_text="queued, running, done or failed")
    rows_done = serializers.IntegerField()
    rows_total = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    result = serializers.DictField()
    url = serializers.URLField()
    page = serializers.URLField()
    rejected = serializers.URLField(allow_null=True)


def _import_job_data(request, job) -> dict:
    data = import_jobs.job_status(job)
    data["url"] = request.build_absolute_uri(reverse("api-import-job", args=[job.token]))
    data["page"] = request.build_absolute_uri(
        reverse("repository:staff-import-job", args=[job.token])
    )
    rejected = job.state == "done" and job.rejected_path
    data["rejected"] = (
        request.build_absolute_uri(reverse("repository:staff-import-rejected", args=[job.token]))
        if rejected
        else None
    )
    return data


class ImportJobsView(APIView):
    """Queue a catalogue import (a dry run unless ``dry_run`` is false): 202 with the job's URL;
    the ``run_imports`` worker runs it."""

    permission_classes = [ImportRoles]

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer},
        responses={202: ImportJobSerializer},
    )
    def post(self, request):
        serializer = ImportUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            job = import_jobs.create_job(
                data["file"],
                data["file"].name,
                acting_user=request.user,
                kind=data["kind"],
                encoding=data["encoding"] or None,
                all_or_nothing=data["all_or_nothing"],
                dry_run=data["dry_run"],
            )
        except import_jobs.ImportFileError as exc:
            raise serializers.ValidationError({"file": [str(exc)]}) from None
        body = _import_job_data(request, job)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class ImportJobView(APIView):
    """An import job's state and progress (only its owner and administrators see it)."""

    permission_classes = [ImportRoles]

    @extend_schema(responses=ImportJobSerializer)
    def get(self, request, token: str):
        return Response(_import_job_data(request, import_jobs.job_for(request.user, token)))


class ImportJobCommitView(APIView):
    """Queue the commit of a finished dry run: 202 with the new job's URL."""

    permission_classes = [ImportRoles]

    @extend_schema(request=None, responses={202: ImportJobSerializer})
    def post(self, request, token: str):
        dry_run = import_jobs.job_for(request.user, token)
        if import_jobs.job_report(dry_run) is None:
            raise serializers.ValidationError({"id": ["Only a finished dry run can be committed."]})
        job = import_jobs.commit_job(dry_run, acting_user=request.user)
        body = _import_job_data(request, job)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


router.register("volumes", VolumeViewSet, basename="volume")
router.register("items", ItemViewSet, basename="item")
router.register("positions", PositionViewSet, basename="position")
router.register("moves", MoveViewSet, basename="move")
router.register("stocktakes", StocktakeViewSet, basename="stocktake")
router.register("shelving-units", ShelvingUnitViewSet, basename="shelving-unit")
router.register("boxes", BoxViewSet, basename="box")

api_urlpatterns: list = [
    path("where-is/", WhereIsView.as_view(), name="api-where-is"),
    path("labels/", LabelsView.as_view(), name="api-labels"),
    path("review-queue/", ReviewQueueView.as_view(), name="api-review-queue"),
    path("rooms/<str:code>/occupancy/", RoomOccupancyView.as_view(), name="api-room-occupancy"),
    path("imports/", ImportJobsView.as_view(), name="api-imports"),
    path("imports/<str:token>/", ImportJobView.as_view(), name="api-import-job"),
    path("imports/<str:token>/commit/", ImportJobCommitView.as_view(), name="api-import-commit"),
]
