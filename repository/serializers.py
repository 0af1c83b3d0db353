"""API representations. Input serializers only parse; rules live in repository.services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from repository.choices import AccessStatus, Carrier, OpeningDecision, ShelvingKind
from repository.models import Move
from repository.validation import format_partial_date


class RecordSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.SerializerMethodField()
    reference_code = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    creator = serializers.CharField(read_only=True)
    date = serializers.SerializerMethodField()
    date_start = serializers.DateField(read_only=True)
    date_end = serializers.DateField(read_only=True)
    date_inferred = serializers.BooleanField(
        read_only=True, help_text="考证日期 (DA/T 18-2022 §7.6.6): established by the archivist"
    )
    document_number = serializers.CharField(read_only=True)
    secrecy_period = serializers.CharField(read_only=True)
    legacy_values = serializers.DictField(
        read_only=True, help_text="values of a legacy catalogue kept as found (to re-appraise)"
    )
    pages = serializers.IntegerField(read_only=True, allow_null=True)
    retention = serializers.CharField(read_only=True)
    classification = serializers.IntegerField(read_only=True)
    access_status = serializers.CharField(read_only=True)
    # The label in the request's language (部分开放 for "partial").
    access_status_display = serializers.CharField(
        source="get_access_status_display", read_only=True
    )
    carrier = serializers.CharField(read_only=True)
    keywords = serializers.CharField(read_only=True)
    notes = serializers.CharField(read_only=True)
    filing_year = serializers.IntegerField(read_only=True, allow_null=True)
    org_unit = serializers.CharField(read_only=True)
    fonds = serializers.CharField(source="fonds.code", read_only=True)
    category = serializers.CharField(source="category.code", read_only=True)
    category_id = serializers.IntegerField(read_only=True)
    # The volume through its own door (``access.through_volume_door``): null when the volume
    # is hidden from the caller, or when nobody asked the door.
    volume_id = serializers.IntegerField(
        source="visible_volume_id", read_only=True, allow_null=True, default=None
    )
    version = serializers.IntegerField(read_only=True)

    def get_kind(self, obj) -> str:
        return obj._meta.model_name

    def get_date(self, obj) -> str:
        return format_partial_date(obj.date_start, obj.date_end, obj.date_precision)


@extend_schema_serializer(many=False)  # the list action answers one page object
class RecordPageSerializer(serializers.Serializer):
    """One keyset page of records: no total count; ``next`` is the following page."""

    next = serializers.URLField(allow_null=True, read_only=True)
    results = RecordSerializer(many=True, read_only=True)


class StaffRecordSerializer(RecordSerializer):
    position = serializers.SerializerMethodField()

    def get_position(self, obj) -> str | None:
        return obj.position.code if obj.position_id else None


class RecordInputSerializer(serializers.Serializer):
    """Fields for create (all) and update (partial). Values are checked by the services."""

    fonds = serializers.IntegerField(required=False, help_text="fonds id (create only)")
    category = serializers.IntegerField(required=False, help_text="category id (create only)")
    volume = serializers.IntegerField(required=False, allow_null=True)
    reference_code = serializers.CharField(required=False, allow_blank=True, max_length=64)
    title = serializers.CharField(required=False, allow_blank=True, max_length=500)
    creator = serializers.CharField(required=False, allow_blank=True, max_length=200)
    date = serializers.CharField(required=False, allow_blank=True, max_length=40)
    pages = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    retention = serializers.CharField(
        required=False, max_length=8, help_text="Y, D+years (D30, D10, D5…) or 永久/定期30年…"
    )
    document_number = serializers.CharField(required=False, allow_blank=True, max_length=100)
    secrecy_period = serializers.CharField(
        required=False, allow_blank=True, max_length=20, help_text="10年, 20301231 or 长期"
    )
    classification = serializers.IntegerField(
        required=False, min_value=0, max_value=3, help_text="0 none, 1 秘密, 2 机密, 3 绝密"
    )
    access_status = serializers.ChoiceField(choices=AccessStatus.choices, required=False)
    carrier = serializers.ChoiceField(choices=Carrier.choices, required=False)
    keywords = serializers.CharField(required=False, allow_blank=True, max_length=500)
    notes = serializers.CharField(required=False, allow_blank=True)
    filing_year = serializers.IntegerField(required=False, allow_null=True)
    org_unit = serializers.CharField(required=False, allow_blank=True, max_length=100)


class RenumberSerializer(serializers.Serializer):
    new_code = serializers.CharField(max_length=64)
    reason = serializers.CharField(max_length=500)


class MoveInputSerializer(serializers.Serializer):
    to_position = serializers.CharField(
        max_length=64, allow_blank=True, help_text="position code; empty takes it off the shelf"
    )
    reason = serializers.CharField(max_length=200)


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=OpeningDecision.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    next_review_on = serializers.DateField(required=False, allow_null=True, default=None)
    withheld_pages = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list
    )
    redaction_note = serializers.CharField(required=False, allow_blank=True, default="")
    unit_name = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=200,
        help_text="forming or transferring unit (档案法 2020 第三十条)",
    )
    unit_opinion_on = serializers.DateField(required=False, allow_null=True, default=None)
    unit_opinion = serializers.CharField(required=False, allow_blank=True, default="")


class PositionSerializer(serializers.Serializer):
    """A shelf position."""

    # Declared fields, not a ModelSerializer: built on every where-is look-up, and a
    # ModelSerializer derives its fields per instance (about 1 ms).

    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    room = serializers.CharField(source="room.code", read_only=True)
    unit = serializers.CharField(source="unit.code", read_only=True)
    side = serializers.CharField(read_only=True)
    column = serializers.IntegerField(read_only=True)
    section = serializers.IntegerField(read_only=True)
    layer = serializers.IntegerField(read_only=True)
    path = serializers.CharField(read_only=True)
    capacity = serializers.IntegerField(read_only=True)


class MoveSerializer(serializers.ModelSerializer):
    # null when the record came from / went to no shelf, or the mover's account is gone.
    from_position = serializers.CharField(
        source="from_position.code", default=None, allow_null=True, read_only=True
    )
    to_position = serializers.CharField(
        source="to_position.code", default=None, allow_null=True, read_only=True
    )
    moved_by = serializers.CharField(
        source="moved_by.username", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = Move
        fields = [
            "id",
            "volume",
            "item",
            "box",
            "from_position",
            "to_position",
            "moved_by",
            "moved_at",
            "reason",
        ]


class LocationSerializer(serializers.Serializer):
    kind = serializers.CharField()
    code = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    record_id = serializers.IntegerField(allow_null=True)
    position = PositionSerializer(allow_null=True)
    label = serializers.CharField(allow_blank=True)


class ShelvingUnitSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    room = serializers.CharField(source="room.code", read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    kind = serializers.CharField(read_only=True)
    columns = serializers.IntegerField(read_only=True)
    sections = serializers.IntegerField(read_only=True)
    layers = serializers.IntegerField(read_only=True)
    sides = serializers.IntegerField(read_only=True)
    position_capacity = serializers.IntegerField(read_only=True)
    positions = serializers.IntegerField(
        source="position_count", read_only=True, help_text="number of positions"
    )


class ShelvingUnitInputSerializer(serializers.Serializer):
    """A new unit; ranges and uniqueness are checked by ``services.create_shelving_unit``."""

    room = serializers.CharField(max_length=20, help_text="store room code")
    code = serializers.CharField(max_length=20, help_text="1 to 8 letters or digits")
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=ShelvingKind.choices, default=ShelvingKind.MOBILE)
    columns = serializers.IntegerField(help_text="列, 1–99")
    sections = serializers.IntegerField(help_text="节, 1–99")
    layers = serializers.IntegerField(help_text="层, 1–99")
    sides = serializers.IntegerField(default=1, help_text="1 or 2 (A/B)")
    position_capacity = serializers.IntegerField(default=20, help_text="places per position")


class BoxSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    fonds = serializers.CharField(source="fonds.code", read_only=True)
    room = serializers.CharField(source="room.code", read_only=True, default=None)
    position = serializers.CharField(source="position.code", read_only=True, default=None)
    capacity = serializers.IntegerField(read_only=True)
    used = serializers.IntegerField(read_only=True, help_text="places taken")
    notes = serializers.CharField(read_only=True)


class BoxRecordSerializer(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.IntegerField()
    reference_code = serializers.CharField()
    title = serializers.CharField()


class BoxDetailSerializer(BoxSerializer):
    position_label = serializers.CharField(read_only=True)
    contents = BoxRecordSerializer(many=True, read_only=True, help_text="records you may see")
    hidden = serializers.IntegerField(
        read_only=True, help_text="records in the box you may not see (counted, not named)"
    )


class BoxInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    fonds = serializers.CharField(max_length=20, help_text="fonds number")
    capacity = serializers.IntegerField(default=20, help_text="places, 1–1000")
    room = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text="store room code"
    )
    position = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="position code: shelve it now"
    )
    notes = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class BoxUpdateSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, required=False, help_text="new box code")
    capacity = serializers.IntegerField(required=False, help_text="places, 1–1000")
    notes = serializers.CharField(max_length=200, required=False, allow_blank=True)


class BoxDeleteSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text="why the box is deleted")


class BoxCodesSerializer(serializers.Serializer):
    codes = serializers.ListField(
        child=serializers.CharField(max_length=64), min_length=1, max_length=500
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class BoxRemoveSerializer(BoxCodesSerializer):
    to_position = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="position code; empty: off the shelf (in hand)",
    )
