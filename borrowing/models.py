"""Access requests (利用申请), approvals, loans, check-in scans and digital-copy grants.

Single-object invariants live here (state transitions, one active loan per record as a database
constraint); every multi-object write is in ``borrowing/services/``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection, models, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.choices import Classification
from accounts.identity import id_number_digest
from borrowing.choices import (
    TRANSITIONS,
    ApproverRole,
    CopyMedium,
    EffectCategory,
    IdDocumentType,
    LineDecision,
    RequestState,
    ScanKind,
    UseMethod,
    UserType,
)
from borrowing.roles import is_borrowing_staff
from core.errors import Conflict
from repository.choices import AccessStatus
from repository.models import Item, Volume


class IllegalTransition(ValidationError, Conflict):
    """A request state change that the state machine does not allow (a double click)."""


__all__ = ["id_number_digest"]  # re-exported from accounts.identity


class UsePurpose(models.Model):
    """利用目的: why records are used (编史修志, 工作查考, 学术研究 …), a list the administrator
    keeps (``borrowing.settings_service``); separate from the method (``UseMethod``). The
    annual statistics (档案统计年报) count uses per purpose."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=60)
    position = models.PositiveSmallIntegerField(_("order"), default=100)
    active = models.BooleanField(_("offered"), default=True)

    class Meta:
        verbose_name = _("purpose of use")
        verbose_name_plural = _("purposes of use")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def ensure_defaults(cls) -> None:
        """The seeded list when the table is empty (a database flushed after migrating, as
        in transactional tests): never an empty choice of purposes."""
        if not cls.objects.exists():
            cls.objects.bulk_create(
                [
                    cls(code=code, name=name, position=n * 10)
                    for n, (code, name) in enumerate(DEFAULT_PURPOSES, start=1)
                ],
                ignore_conflicts=True,
            )


# The purposes seeded by the migration (names as the 档案统计年报 groups them).
DEFAULT_PURPOSES = [
    ("history", "编史修志"),
    ("work", "工作查考"),
    ("research", "学术研究"),
    ("economy", "经济建设"),
    ("education", "宣传教育"),
    ("evidence", "落实政策/个人取证"),
    ("other", "其他"),
]


class AccessSettings(models.Model):
    """利用设置: the defaults an administrator may change (one row, written through
    ``borrowing.settings_service``, audited)."""

    archive_name = models.CharField(_("archive name"), max_length=100, default="档案馆")
    reading_room_closes = models.TimeField(
        _("reading room closes"), default=dt.time(17, 0)
    )  # 查阅: returned at closing the same day
    lending_days = models.PositiveSmallIntegerField(_("lending period (days)"), default=7)
    lending_max_days = models.PositiveSmallIntegerField(
        _("longest lending period (days)"), default=30
    )
    lending_steps = models.PositiveSmallIntegerField(
        _("approval steps for lending"), default=2
    )  # 借出: an approver, then a senior approver
    max_copy_pages = models.PositiveIntegerField(_("most pages per copy line"), default=500)
    certificate_prefix = models.CharField(
        _("certificate number prefix"), max_length=10, default="ZM"
    )
    metadata_fonds = models.ManyToManyField(
        "repository.Fonds",
        blank=True,
        related_name="+",
        verbose_name=_("fonds listing controlled records (metadata only)"),
        help_text=_(
            "Controlled, unclassified records of these fonds are listed to the public by "
            "reference code and title only, so that researchers can ask for them."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("access settings")
        verbose_name_plural = _("access settings")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="access_settings_single_row"),
            models.CheckConstraint(
                condition=Q(lending_days__gte=1)
                & Q(lending_days__lte=models.F("lending_max_days")),
                name="access_settings_lending_days",
            ),
            models.CheckConstraint(
                condition=Q(lending_steps__gte=1) & Q(lending_steps__lte=3),
                name="access_settings_lending_steps",
            ),
        ]

    def __str__(self) -> str:
        return str(_("access settings"))

    @classmethod
    def current(cls) -> AccessSettings:
        """The one row (created with the defaults when missing)."""
        return cls.objects.get_or_create(pk=1)[0]


def names_hidden_record(user) -> Q:
    """On a row that names one record (``item_id`` or ``volume_id``: a request line, a loan, a
    grant): true when the record door (``visible_to``: clearance AND fonds permission, or the
    public rules) keeps that record from ``user``."""
    return Q(Exists(Item.objects.hidden_from(user).filter(pk=OuterRef("item_id")))) | Q(
        Exists(Volume.objects.hidden_from(user).filter(pk=OuterRef("volume_id")))
    )


def with_hidden_flag(qs, user):
    """Annotate rows that name a record with ``hidden`` (see ``names_hidden_record``): the
    requester's own pages show such a row without its code and title."""
    return qs.annotate(
        hidden=ExpressionWrapper(names_hidden_record(user), output_field=BooleanField())
    )


@contextmanager
def without_jit() -> Iterator[None]:
    """Queries run inside go unJITted on PostgreSQL (``SET LOCAL jit = off``, this transaction).

    The planner prices the borrowing door's correlated NOT EXISTS per request row, so the
    desk's eleven capped counts together cross ``jit_above_cost``: measured on 50,000 requests
    (bench/borrowing_desk.py, 200,000 records), the counts query took 1,100 ms of which 1,070 ms
    were JIT compilation, against 45 ms without it. Other databases: nothing to do."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        yield


class AccessRequestQuerySet(models.QuerySet):
    def capped_state_counts(self, states: list[str], cap: int) -> dict[str, int]:
        """Requests of this queryset per state, each counted up to ``cap``, in one query whose
        cost is bounded by the cap rather than by the history of closed requests."""
        parts, params = [], []
        counts = dict.fromkeys(states, 0)
        for i, state in enumerate(states):
            page = self.filter(state=state).order_by().values("pk")[: int(cap)]
            try:
                sql, sql_params = page.query.sql_with_params()
            except EmptyResultSet:  # nothing can match (e.g. ``none()``)
                continue
            # ``sql`` is compiled by Django from this queryset, its values stay parameters.
            parts.append((state, f"(SELECT COUNT(*) FROM ({sql}) AS s{i})"))  # noqa: S608
            params.extend(sql_params)
        if not parts:
            return counts
        with without_jit(), connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(sql for _state, sql in parts), params)
            row = cursor.fetchone()
        counts.update(zip([state for state, _sql in parts], row, strict=True))
        return counts

    def handled_by(self, user) -> AccessRequestQuerySet:
        """The staff door: requests a borrowing staff member may read and act on — those of
        which every record passes the record door for them (clearance AND fonds permission, or
        the public rules). Everything else is absent (404), never shown in part; counts,
        tabs, slips, loans, the retrieval list and statistics are built on this."""
        if not is_borrowing_staff(user):
            return self.none()
        return self.filter(~self._names_hidden(user))

    def visible_to(self, user) -> AccessRequestQuerySet:
        """What a user may read: as staff, the requests they handle (``handled_by``); and
        everyone their own requests (the requester's pages show a record that has since left
        their view without its code and title, by the same record door)."""
        if user is None or not user.is_authenticated:
            return self.none()

        if is_borrowing_staff(user):
            return self.filter(Q(requester=user) | ~self._names_hidden(user))
        return self.filter(requester=user)

    @staticmethod
    def _names_hidden(user) -> Q:
        lines = RequestLine.objects.filter(request=OuterRef("pk")).filter(names_hidden_record(user))
        return Q(Exists(lines))


class AccessRequest(models.Model):
    """利用申请: one person asks to use some volumes/items for a purpose over a window."""

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="access_requests",
        verbose_name=_("requester"),
    )
    user_type = models.CharField(_("user type"), max_length=12, choices=UserType.choices)
    # Null on requests made before purposes were recorded (the column held the method then).
    purpose = models.ForeignKey(
        UsePurpose,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("purpose of use"),
    )
    state = models.CharField(
        _("state"), max_length=16, choices=RequestState.choices, default=RequestState.DRAFT
    )
    date_from = models.DateField(_("from"))
    date_to = models.DateField(_("to"))
    note = models.TextField(_("note"), blank=True, max_length=2000)
    # Identity (public users): stored minimally — type, last four characters, keyed digest.
    id_document_type = models.CharField(
        _("identity document"), max_length=12, choices=IdDocumentType.choices, blank=True
    )
    id_number_last4 = models.CharField(max_length=4, blank=True)
    id_number_digest = models.CharField(max_length=64, blank=True)
    id_document_expires = models.DateField(_("document valid until"), null=True, blank=True)
    # The approval chain fixed at submission: [{"role": ..., "clearance": n}, ...]
    chain = models.JSONField(default=list, blank=True)
    max_classification = models.PositiveSmallIntegerField(
        choices=Classification.choices, default=Classification.NONE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # 利用效果登记: what the use achieved, by the desk or the researcher.
    effect = models.CharField(
        _("effect of use"), max_length=12, choices=EffectCategory.choices, blank=True
    )
    effect_note = models.TextField(_("effect described"), max_length=2000, blank=True)
    effect_recorded_at = models.DateTimeField(null=True, blank=True)
    effect_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = AccessRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("access request")
        verbose_name_plural = _("access requests")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "submitted_at"], name="request_queue_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(date_to__gte=models.F("date_from")), name="request_dates_ordered"
            )
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        """The request number printed on slips and encoded in their barcode."""
        return f"JY{self.pk:08d}" if self.pk else "JY--------"

    @property
    def masked_id_number(self) -> str:
        return f"{'*' * 8}{self.id_number_last4}" if self.id_number_last4 else ""

    @property
    def purpose_label(self) -> str:
        return str(self.purpose) if self.purpose_id else str(_("Not recorded"))

    @property
    def id_document_expired(self) -> bool:
        return bool(self.id_document_expires and self.id_document_expires < timezone.localdate())

    @property
    def steps_done(self) -> int:
        return self.decisions.count()

    def can_transition(self, target: str) -> bool:
        return target in TRANSITIONS.get(self.state, frozenset())

    def transition(self, target: str) -> None:
        """Move to ``target`` or raise ``IllegalTransition`` with a clear message."""
        if not self.can_transition(target):
            raise IllegalTransition(
                _("A request that is “%(state)s” cannot become “%(target)s”.")
                % {
                    "state": RequestState(self.state).label,
                    "target": RequestState(target).label,
                },
                code="illegal_transition",
            )
        self.state = target


class RecordRef(models.Model):
    """Points at exactly one catalogue record: a volume or an item."""

    volume = models.ForeignKey(
        "repository.Volume", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    item = models.ForeignKey(
        "repository.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True

    @property
    def record(self):
        return self.item if self.item_id else self.volume


def _one_record(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=(Q(item__isnull=False) & Q(volume__isnull=True))
        | (Q(item__isnull=True) & Q(volume__isnull=False)),
        name=name,
    )


class RequestLine(RecordRef):
    """One record in a request, with the decision on it."""

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="lines")
    method = models.CharField(
        _("method of use"), max_length=12, choices=UseMethod.choices, default=UseMethod.READING
    )
    # 复制: pages asked for (required), paper or digital, certified (复制专用章) or not.
    copy_pages = models.PositiveIntegerField(_("pages"), null=True, blank=True)
    copy_medium = models.CharField(
        _("copy medium"), max_length=8, choices=CopyMedium.choices, blank=True
    )
    certified = models.BooleanField(_("certified copy"), default=False)
    # 出具档案证明 and certified copies: the number given when issued, and the content.
    certificate_number = models.CharField(
        _("certificate number"), max_length=32, blank=True, db_index=True
    )
    certificate_content = models.TextField(_("certificate content"), max_length=4000, blank=True)
    served_at = models.DateTimeField(_("served"), null=True, blank=True)
    served_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(
        _("decision"), max_length=10, choices=LineDecision.choices, default=LineDecision.PENDING
    )
    refusal_reason = models.CharField(_("reason for refusal"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("requested record")
        verbose_name_plural = _("requested records")
        ordering = ["id"]
        constraints = [
            _one_record("line_one_record"),
            models.UniqueConstraint(fields=["request", "item"], name="line_unique_item"),
            models.UniqueConstraint(fields=["request", "volume"], name="line_unique_volume"),
            models.CheckConstraint(
                condition=~Q(method="copying") | Q(copy_pages__gte=1), name="line_copy_has_pages"
            ),
        ]

    def __str__(self) -> str:
        return str(self.record)

    @property
    def handles_original(self) -> bool:
        """The reader holds the original (查阅, 摘录, 借出): a loan, returned and counted."""
        return self.method in (UseMethod.READING, UseMethod.EXCERPT, UseMethod.LENDING)


class ApprovalRule(models.Model):
    """One row of the configurable approval rule table. The first matching row (lowest
    ``priority``) for the most restrictive record in a request decides the chain."""

    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    min_classification = models.PositiveSmallIntegerField(
        _("from classification"), choices=Classification.choices, default=Classification.NONE
    )
    access_status = models.CharField(
        _("access status"),
        max_length=12,
        choices=AccessStatus.choices,
        blank=True,
        help_text=_("Blank: any."),
    )
    method = models.CharField(
        _("method of use"),
        max_length=12,
        choices=UseMethod.choices,
        blank=True,
        help_text=_("Blank: any."),
    )
    role = models.CharField(_("approved by"), max_length=12, choices=ApproverRole.choices)
    steps = models.PositiveSmallIntegerField(_("approval steps"), default=1)
    description = models.CharField(_("description"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("approval rule")
        verbose_name_plural = _("approval rules")
        ordering = ["priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(steps__gte=1) & Q(steps__lte=3), name="rule_steps_1_to_3"
            )
        ]

    def __str__(self) -> str:
        return self.description or f"#{self.priority}"


class ApprovalDecision(models.Model):
    """One step of the approval chain: who decided, when, which lines, and why."""

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="decisions")
    step = models.PositiveSmallIntegerField(_("step"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)
    approved_lines = models.JSONField(default=list)
    refused_lines = models.JSONField(default=list)
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("approval decision")
        verbose_name_plural = _("approval decisions")
        ordering = ["request", "step"]
        constraints = [
            models.UniqueConstraint(fields=["request", "step"], name="decision_one_per_step")
        ]

    def __str__(self) -> str:
        return f"{self.request.number} step {self.step}"


class LoanQuerySet(models.QuerySet):
    def active(self) -> LoanQuerySet:
        return self.filter(returned_at__isnull=True)

    def handled_by(self, user) -> LoanQuerySet:
        """Loans of the requests ``user`` handles (``AccessRequest.objects.handled_by``)."""
        return self.filter(request__in=AccessRequest.objects.handled_by(user))

    def visible_to(self, user) -> LoanQuerySet:
        """The loans a user handles as staff, and their own."""
        if user is None or not user.is_authenticated:
            return self.none()

        if is_borrowing_staff(user):
            return self.filter(
                Q(borrower=user) | Q(request__in=AccessRequest.objects.handled_by(user))
            )
        return self.filter(borrower=user)


class Loan(RecordRef):
    """借出: one record in a reader's hands. At most one active loan per record (constraint)."""

    line = models.OneToOneField(RequestLine, on_delete=models.PROTECT, related_name="loan")
    request = models.ForeignKey(AccessRequest, on_delete=models.PROTECT, related_name="loans")
    borrower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="loans"
    )
    checked_out_at = models.DateTimeField(default=timezone.now)
    checked_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    due_date = models.DateField(_("due date"), db_index=True)
    conditions = models.CharField(_("conditions"), max_length=500, blank=True)
    renewals = models.PositiveSmallIntegerField(_("renewals"), default=0)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The return of an original records what came back: pages/items counted and the condition.
    original = models.BooleanField(_("original"), default=True)
    returned_count = models.PositiveIntegerField(_("pages/items counted"), null=True, blank=True)
    return_condition = models.CharField(_("condition on return"), max_length=500, blank=True)

    objects = LoanQuerySet.as_manager()

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        ordering = ["-checked_out_at", "-id"]
        constraints = [
            _one_record("loan_one_record"),
            models.UniqueConstraint(
                fields=["item"], condition=Q(returned_at__isnull=True), name="loan_one_active_item"
            ),
            models.UniqueConstraint(
                fields=["volume"],
                condition=Q(returned_at__isnull=True),
                name="loan_one_active_volume",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request.number} {self.record}"

    @property
    def is_active(self) -> bool:
        return self.returned_at is None

    @property
    def is_overdue(self) -> bool:
        return self.is_active and self.due_date < timezone.localdate()


class Reminder(models.Model):
    """An overdue reminder sent for a loan and a due date: never the same one twice."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="reminders")
    due_date = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["loan", "due_date"], name="reminder_once_per_due_date")
        ]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.due_date}"


class Scan(models.Model):
    """A check-in scan from a phone, keyed by the client's scan id: a replay returns the first
    result and changes nothing."""

    scan_id = models.UUIDField(unique=True)
    kind = models.CharField(max_length=8, choices=ScanKind.choices)
    code = models.CharField(max_length=128)
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(default=200)
    result = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.code}"


class DigitalGrant(RecordRef):
    """Time-limited view access to a record's digitised pages, from an approved request. The
    object permission itself is a django-guardian row; this is the expiry record."""

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digital_grants"
    )
    starts_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [_one_record("grant_one_record")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.record} → {self.expires_at:%Y-%m-%d}"


# --- the audit log's door (core.hooks.audit_hidden_objects, registered in apps.py) ----------


def hidden_requests(user) -> AccessRequestQuerySet:
    """Requests ``visible_to`` leaves out: their audit rows are not shown to ``user``."""
    return AccessRequest.objects.exclude(pk__in=AccessRequest.objects.visible_to(user).values("pk"))


def hidden_loans(user) -> LoanQuerySet:
    return Loan.objects.exclude(pk__in=Loan.objects.visible_to(user).values("pk"))


def hidden_grants(user) -> models.QuerySet:
    """Digital copies of records hidden from ``user`` (a grant follows its record)."""
    return DigitalGrant.objects.filter(names_hidden_record(user))
