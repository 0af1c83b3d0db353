from __future__ import annotations

from rest_framework import serializers

from borrowing.choices import CopyMedium, IdDocumentType, ScanKind, UseMethod
from borrowing.models import AccessRequest, ApprovalDecision, Loan, RequestLine
from borrowing.services import record_code


def _hidden(row) -> bool:
    """A row annotated ``hidden`` (``borrowing.models.with_hidden_flag``) names a record the
    reader may not see: a requester's own request or loan shows it without code and title. A
    row without the annotation is hidden: views that serialise must say who reads."""
    return getattr(row, "hidden", True)


class RequestLineSerializer(serializers.ModelSerializer):
    record = serializers.SerializerMethodField()
    reference_code = serializers.SerializerMethodField()
    title = serializers.SerializerMethodField()

    class Meta:
        model = RequestLine
        fields = [
            "id",
            "record",
            "reference_code",
            "title",
            "method",
            "copy_pages",
            "copy_medium",
            "certified",
            "certificate_number",
            "served_at",
            "decision",
            "refusal_reason",
        ]

    def get_record(self, line) -> str:
        return "" if _hidden(line) else record_code(line.record)

    def get_reference_code(self, line) -> str:
        return "" if _hidden(line) else line.record.reference_code

    def get_title(self, line) -> str:
        return "" if _hidden(line) else line.record.title


class DecisionSerializer(serializers.ModelSerializer):
    decided_by = serializers.CharField(source="decided_by.username")

    class Meta:
        model = ApprovalDecision
        fields = ["step", "decided_by", "decided_at", "approved_lines", "refused_lines", "reason"]


class AccessRequestSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    requester = serializers.CharField(source="requester.username", read_only=True)
    id_number_masked = serializers.CharField(source="masked_id_number", read_only=True)
    # Blank for staff requests (no identity document): the schema's enum must say so.
    id_document_type = serializers.ChoiceField(
        choices=IdDocumentType.choices, allow_blank=True, read_only=True
    )
    purpose = serializers.SlugRelatedField(slug_field="code", read_only=True)
    lines = RequestLineSerializer(many=True, read_only=True)
    decisions = DecisionSerializer(many=True, read_only=True)

    class Meta:
        model = AccessRequest
        fields = [
            "id",
            "number",
            "requester",
            "user_type",
            "purpose",
            "state",
            "date_from",
            "date_to",
            "note",
            "id_document_type",
            "id_number_masked",
            "id_document_expires",
            "chain",
            "submitted_at",
            "decided_at",
            "lines",
            "decisions",
        ]
        read_only_fields = fields


class InboxEntrySerializer(AccessRequestSerializer):
    """One request of the approver's inbox (待我审批): the request with the step waiting for
    this user, why it needs approval, the chain in words and who approved already."""

    step_number = serializers.IntegerField(read_only=True)
    step_role = serializers.CharField(source="step.role", read_only=True)
    step_clearance = serializers.IntegerField(source="step.clearance", read_only=True)
    step_reason = serializers.CharField(read_only=True)
    chain_words = serializers.ListField(child=serializers.CharField(), read_only=True)
    approved_by = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(AccessRequestSerializer.Meta):
        fields = [
            *AccessRequestSerializer.Meta.fields,
            "step_number",
            "step_role",
            "step_clearance",
            "step_reason",
            "chain_words",
            "approved_by",
        ]
        read_only_fields = fields


class AccessRequestCreateSerializer(serializers.Serializer):
    records = serializers.ListField(
        child=serializers.RegexField(r"^[IV]\d{1,12}$"),
        min_length=1,
        max_length=50,
        help_text="Record codes: I<id> for items, V<id> for volumes.",
    )
    purpose = serializers.SlugField(
        max_length=32, help_text="A purpose of use code (the configured list)."
    )
    method = serializers.ChoiceField(choices=UseMethod.choices, default=UseMethod.READING)
    copy_pages = serializers.IntegerField(
        min_value=1, max_value=100000, required=False, allow_null=True, default=None
    )
    copy_medium = serializers.ChoiceField(
        choices=CopyMedium.choices, required=False, default="", allow_blank=True
    )
    certified = serializers.BooleanField(required=False, default=False)
    date_from = serializers.DateField()
    date_to = serializers.DateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)
    id_document_type = serializers.ChoiceField(
        choices=IdDocumentType.choices, required=False, default="", allow_blank=True
    )
    id_number = serializers.CharField(
        max_length=30, required=False, default="", allow_blank=True, write_only=True
    )
    id_document_expires = serializers.DateField(required=False, allow_null=True, default=None)


class DecideSerializer(serializers.Serializer):
    approve = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class CheckOutSerializer(serializers.Serializer):
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    conditions = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)
    identity_seen = serializers.CharField(
        max_length=200, required=False, default="", allow_blank=True
    )


class ReturnSerializer(serializers.Serializer):
    counted = serializers.IntegerField(min_value=0, max_value=1000000, required=False, default=None)
    condition = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class RenewSerializer(serializers.Serializer):
    due_date = serializers.DateField(required=False, allow_null=True, default=None)


class LoanSerializer(serializers.ModelSerializer):
    record = serializers.SerializerMethodField()
    reference_code = serializers.SerializerMethodField()
    request_number = serializers.CharField(source="request.number", read_only=True)
    borrower = serializers.CharField(source="borrower.username", read_only=True)

    class Meta:
        model = Loan
        fields = [
            "id",
            "record",
            "reference_code",
            "request",
            "request_number",
            "borrower",
            "checked_out_at",
            "due_date",
            "conditions",
            "renewals",
            "returned_at",
            "returned_count",
            "return_condition",
        ]
        read_only_fields = fields

    def get_record(self, loan) -> str:
        return "" if _hidden(loan) else record_code(loan.record)

    def get_reference_code(self, loan) -> str:
        return "" if _hidden(loan) else loan.record.reference_code


class ScanSerializer(serializers.Serializer):
    scan_id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=ScanKind.choices)
    code = serializers.CharField(max_length=128, allow_blank=True)
    position = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)


class ScanResultSerializer(serializers.Serializer):
    scan_id = serializers.UUIDField()
    replayed = serializers.BooleanField()
    action = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)
    code = serializers.CharField(required=False)
    move = serializers.IntegerField(required=False, allow_null=True)
    undo_until = serializers.DateTimeField(required=False, allow_null=True)
