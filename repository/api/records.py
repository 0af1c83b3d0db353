"""Volumes and items: list, read, describe, renumber, move, decide opening, digitised pages
(list, upload, replace, delete); the opening-review queue."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import BaseViewSet
from repository import access, images, listing, services
from repository.models import Fonds, Item, Volume
from repository.serializers import (
    DecisionSerializer,
    MoveInputSerializer,
    MoveSerializer,
    RecordInputSerializer,
    RecordPageSerializer,
    RecordSerializer,
    RenumberSerializer,
    StaffRecordSerializer,
)


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


def _staff_data(user, record) -> dict:
    return StaffRecordSerializer(access.through_volume_door(user, [record])[0]).data


class RecordViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, BaseViewSet
):
    """Volumes or items of the catalogue, as far as the caller may see them."""

    kind = "item"
    permission_classes = [permissions.AllowAny]
    pagination_class = None  # keyset pages (``KeysetPagination``), no count
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
            "fonds",
            "category",
            "position",
            "secrecy",  # 保密期限: the SecrecyTerm's label
        )

    def get_object(self):
        record = access.access_record(self.request.user, self.kind, self.kwargs["pk"])
        services.record_classified_view(record, acting_user=self.request.user)
        return access.through_volume_door(self.request.user, [record])[0]

    @extend_schema(
        parameters=LIST_PARAMETERS,
        responses=RecordPageSerializer,
    )
    def list(self, request, *args, **kwargs):
        rows, next_url = KeysetPagination().paginate(request, self.get_queryset())
        serializer_class = self.get_serializer_class()
        rows = access.through_volume_door(request.user, rows)
        return Response({"next": next_url, "results": serializer_class(rows, many=True).data})

    @extend_schema(request=RecordInputSerializer, responses=StaffRecordSerializer)
    def create(self, request):
        serializer = RecordInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = services.create_record(
            self.kind,
            dict(serializer.validated_data),
            acting_user=request.user,
            door=_("the API"),
        )
        return Response(_staff_data(request.user, record), status=status.HTTP_201_CREATED)

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
        record = services.update_record(
            record, changes, acting_user=request.user, door=_("the API")
        )
        return Response(_staff_data(request.user, record))

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
        return Response(_staff_data(request.user, record))

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
        """Opening review decision: open / partial (withheld_pages and/or redaction_note) /
        controlled or deferred (reason, next_review_on), with the transferring unit's opinion.
        The only way a record's access_status changes."""
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
            redaction_note=data["redaction_note"],
            unit_name=data["unit_name"],
            unit_opinion_on=data["unit_opinion_on"],
            unit_opinion=data["unit_opinion"],
        )
        record.refresh_from_db()
        return Response(_staff_data(request.user, record))


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


class PageReplaceSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="The new scan: JPEG, PNG or TIFF.")


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
    @action(detail=True, methods=["get", "post"], pagination_class=None)
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

    @extend_schema(methods=["PUT"], request=PageReplaceSerializer, responses=DigitalPageSerializer)
    @extend_schema(methods=["DELETE"], request=None, responses={204: None})
    @action(
        detail=True,
        methods=["put", "delete"],
        url_path=r"pages/(?P<page_id>\d{1,19})",
        pagination_class=None,
    )
    def page(self, request, pk=None, page_id=None):
        """One digitised page of the record: replace its scan (PUT, multipart ``image``: the
        same number and withheld state; its text is read again) or delete it (DELETE: its scans
        and text go; search forgets its words at once). Archivists who may change the fonds;
        both audited."""
        page = access.access_page_for_change(request.user, page_id, kind=self.kind, record_pk=pk)
        if request.method == "DELETE":
            images.delete_digital_page(page, acting_user=request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        serializer = PageReplaceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        page = images.replace_digital_page(
            page, serializer.validated_data["image"], acting_user=request.user
        )
        return Response(_page_data(request, page))


class VolumeViewSet(PagesMixin, RecordViewSet):
    kind = "volume"
    queryset = Volume.objects.none()


class ItemViewSet(PagesMixin, RecordViewSet):
    kind = "item"
    queryset = Item.objects.none()


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
        rows = access.through_volume_door(request.user, rows)
        return Response({"results": StaffRecordSerializer(rows, many=True).data})
