"""The catalogue: fonds → category → volume (optional) → item, and the store rooms.

Fixed levels with foreign keys (no nested sets). Volumes and items share the DA/T 18-2022
description fields (``DescribedRecord``); both carry ``fonds`` directly so that visibility and
browsing filter on one indexed column.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from accounts.choices import Classification
from repository import dates
from repository import retention as retention_codes
from repository.choices import (
    PUBLIC_STATUSES,
    AccessStatus,
    AppraisalDecision,
    Carrier,
    DatePrecision,
    DecisionSource,
    OpeningDecision,
    Retention,
    RoomTemplate,
    SecrecyPeriodKind,
    ShelvingKind,
    StocktakeStatus,
)
from repository.querysets import AUDIENCE_FIELDS, MoveQuerySet, PlaceQuerySet, RecordQuerySet
from repository.retention import validate_code as validate_retention_code

OPENING_AGE_YEARS = 25  # Archives Law: records generally open 25 years after formation


class Fonds(models.Model):
    """全宗: all records of one creating body. Staff see a fonds through an object permission."""

    code = models.CharField(_("fonds number"), max_length=20, unique=True)  # 全宗号, e.g. J012
    name = models.CharField(_("fonds name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    # Fonds-level description, DA/T 18-2022 著录项目清单 (全宗级): 档案馆代码 必著,
    # 组织机构沿革 选著, 档案保管沿革 必著; 立档单位 and 起止年度 as GB/T 9705/DA/T 22 cover pages
    # print them (全宗名称 = 立档单位名称, DA/T 22-2015 §6.4.1.1).
    archive_code = models.CharField(_("archive code"), max_length=20, blank=True)
    creating_body = models.CharField(_("creating body"), max_length=200, blank=True)
    start_year = models.PositiveSmallIntegerField(_("first year"), null=True, blank=True)
    end_year = models.PositiveSmallIntegerField(_("last year"), null=True, blank=True)
    administrative_history = models.TextField(_("administrative history"), blank=True)
    custodial_history = models.TextField(_("custodial history"), blank=True)
    # The fonds' reference-code pattern (DA/T 13-2022 segments); see repository/codes.py.
    code_pattern = models.JSONField(_("reference code pattern"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("fonds")
        verbose_name_plural = _("fonds")
        ordering = ["code"]
        permissions = [
            ("view_fonds_records", _("Can view the records of this fonds")),
            ("change_fonds_records", _("Can describe and change the records of this fonds")),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class FondsUserObjectPermission(UserObjectPermissionBase):
    """django-guardian direct foreign-key permission (fast joins, real constraint)."""

    content_object = models.ForeignKey(Fonds, on_delete=models.CASCADE)


class FondsGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Fonds, on_delete=models.CASCADE)


class Category(models.Model):
    """门类/类别: a series in one fonds' classification scheme (文书 WS, 科技 KJ, …)."""

    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="categories")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    code = models.CharField(_("category code"), max_length=20)
    name = models.CharField(_("category name"), max_length=100)
    opening_age_years = models.PositiveSmallIntegerField(
        _("opening age (years)"), default=OPENING_AGE_YEARS
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["fonds__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["fonds", "code"], name="category_unique_code_per_fonds")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class DescribedRecord(models.Model):
    """The DA/T 18-2022 description shared by volumes and items."""

    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    reference_code = models.CharField(_("reference code"), max_length=64, unique=True)  # 档号
    title = models.CharField(_("title"), max_length=500)  # 题名
    # 文件编号 (文号): DA/T 18-2022 著录项目清单, 有则必著 at item level; DA/T 22-2015 §5.5
    # lists 文号 in the 归档文件目录.
    document_number = models.CharField(_("document number"), max_length=100, blank=True)
    creator = models.CharField(_("creator"), max_length=200, blank=True)  # 责任者
    # 日期: full or partial (year, year-month) or a range; start/end bound it for queries.
    date_start = models.DateField(_("date (from)"), null=True, blank=True)
    date_end = models.DateField(_("date (to)"), null=True, blank=True)
    date_precision = models.CharField(
        _("date precision"), max_length=8, choices=DatePrecision.choices, default=DatePrecision.DAY
    )
    # 考证日期 (DA/T 18-2022 §7.6.6): the date was established by the archivist, shown in "[ ]".
    date_inferred = models.BooleanField(_("date established by the archivist"), default=False)
    pages = models.PositiveIntegerField(_("pages"), null=True, blank=True)  # 页数
    # 保管期限 code: Y, D+years, or a legacy C/D/长期/短期 kept as found (repository/retention.py).
    retention = models.CharField(
        _("retention"),
        max_length=8,
        default=Retention.PERMANENT,
        validators=[validate_retention_code],
    )
    classification = models.PositiveSmallIntegerField(
        _("classification"), choices=Classification.choices, default=Classification.NONE
    )
    # 保密期限 is NOT a column: it lives in ``SecrecyTerm`` only (the rule holder: limits of
    # 保守国家秘密法 2024 第十五条, the end date the volume rule and the reminder queue need).
    # Migration 0008 moved the former text column's values into SecrecyTerm rows and dropped the
    # column rather than keep it as a cache: a second copy is one more thing to keep in step,
    # and nothing needs it faster than ``select_related("secrecy")``. Form, API and import
    # write the element through ``services.classification.set_secrecy_text``; readers use
    # ``secrecy_period`` below (the term's label).
    access_status = models.CharField(
        _("access status"),
        max_length=12,
        choices=AccessStatus.choices,
        default=AccessStatus.UNREVIEWED,
    )
    carrier = models.CharField(
        _("carrier type"), max_length=12, choices=Carrier.choices, default=Carrier.PAPER
    )
    keywords = models.CharField(_("keywords"), max_length=500, blank=True)  # 主题词
    notes = models.TextField(_("notes"), blank=True)  # 附注
    filing_year = models.PositiveSmallIntegerField(_("filing year"), null=True, blank=True)
    org_unit = models.CharField(_("organisational unit"), max_length=100, blank=True)
    # 项目号 / 目录号 (DA/T 13-2022 §3.6, §3.7) where the fonds' code pattern uses them.
    project_code = models.CharField(_("project number"), max_length=20, blank=True)
    catalogue_number = models.CharField(_("catalogue number"), max_length=10, blank=True)
    # Values of a legacy catalogue kept as found (e.g. {"retention": "长期", "classification":
    # "内部"}): the record waits for re-appraisal (鉴定); nothing was mapped silently.
    legacy_values = models.JSONField(_("values kept as found"), default=dict, blank=True)
    # 开放审核: a record kept controlled comes back to the queue on this date.
    next_review_on = models.DateField(_("next review date"), null=True, blank=True)
    # Current shelf position (None: not placed, e.g. on loan or electronic only).
    position = models.ForeignKey(
        "repository.Position",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="%(class)ss",
        verbose_name=_("position"),
    )
    # The box it is kept in, if any (a box moves with its contents).
    box = models.ForeignKey(
        "repository.Box",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="%(class)ss",
        verbose_name=_("box"),
    )
    # Increases on every change; the search index never overwrites a newer version.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RecordQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.reference_code} {self.title}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        if not hasattr(self, "_audience"):  # created here: what it was born with
            self._remember_audience()

    # The columns that decide who sees a record (``repository.querysets.record_door``, which
    # also keeps bulk writes of them on the narrowing path: ``RecordQuerySet.update``).
    AUDIENCE_FIELDS = AUDIENCE_FIELDS

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._remember_audience()
        return instance

    def _remember_audience(self) -> None:
        loaded = self.__dict__  # deferred columns are absent: never read them here
        self._audience = {f: loaded.get(f) for f in self.AUDIENCE_FIELDS}

    @property
    def narrowed(self) -> bool:
        """A change since it was loaded (or created) leaves someone who could see it unable
        to: it left the public (closed, withdrawn, classified), rose in 密级, or changed fonds
        or volume while not public. The search outbox drains such changes first."""
        before = getattr(self, "_audience", None)
        if not before or before["access_status"] is None or before["classification"] is None:
            return False  # not loaded whole: nothing to compare with
        was_public = (
            before["access_status"] in PUBLIC_STATUSES
            and int(before["classification"]) == Classification.NONE
        )
        if was_public:
            return not self.allows_public
        if self.allows_public:
            return False
        return int(self.classification) > int(before["classification"]) or any(
            self.__dict__.get(f) != before[f] for f in ("fonds_id", "volume_id") if f in before
        )

    @property
    def audience_changed(self) -> bool:
        """A column of the record door changed since it was loaded (or created): widening or
        narrowing, who may see it is not what it was (a volume's items follow it in search)."""
        before = getattr(self, "_audience", None)
        if not before:
            return False
        return any(
            before[f] is not None and f in self.__dict__ and self.__dict__[f] != before[f]
            for f in self.AUDIENCE_FIELDS
        )

    @property
    def retention_label(self) -> str:
        """永久 / 定期30年 / "5 years" / a legacy value's label (the field has no fixed choices)."""
        return retention_codes.label(self.retention)

    @property
    def secrecy_period(self) -> str:
        """保密期限 as shown everywhere (pages, exports, API, printed forms): the label of its
        ``SecrecyTerm`` ("10年", "2030-12-31", "长期"), empty when it has none. Read-only: the
        term is written only by ``services.classification``."""
        try:
            term = self.secrecy  # type: ignore[attr-defined]
        except (models.ObjectDoesNotExist, ValueError):
            return ""
        return term.label() if term is not None else ""

    @property
    def date8(self) -> str:
        """The date as the standards print it: 20190601, 19490000, 19980101-20031231, [19450815]."""
        return dates.record_format8(self)

    @property
    def allows_public(self) -> bool:
        """Its own columns let the public see it (open or open in part, unclassified)."""
        return self.access_status in PUBLIC_STATUSES and self.classification == Classification.NONE

    @property
    def is_public(self) -> bool:
        """The public sees it: its own columns allow it and, for an item in a volume, the
        volume's do too (the same rule as ``repository.querysets.visible_q``)."""
        if not self.allows_public:
            return False
        volume = getattr(self, "volume", None)
        return volume is None or volume.allows_public


class Volume(DescribedRecord):
    """案卷: a file of items (optional since the 以件为单位 reform)."""

    class Meta:
        verbose_name = _("volume")
        verbose_name_plural = _("volumes")
        indexes = [
            models.Index(fields=["fonds", "category", "filing_year"], name="volume_browse_idx"),
            models.Index(fields=["access_status", "classification"], name="volume_public_idx"),
            models.Index(fields=["access_status", "date_end"], name="volume_review_idx"),
        ]


class Item(DescribedRecord):
    """件: the basic unit; belongs to a volume or directly to a category."""

    volume = models.ForeignKey(
        Volume, null=True, blank=True, on_delete=models.PROTECT, related_name="items"
    )
    sequence = models.PositiveIntegerField(_("item number"), null=True, blank=True)  # 件号

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        indexes = [
            models.Index(fields=["fonds", "category", "filing_year"], name="item_browse_idx"),
            models.Index(fields=["volume", "sequence"], name="item_volume_idx"),
            models.Index(fields=["access_status", "classification"], name="item_public_idx"),
            models.Index(fields=["access_status", "date_end"], name="item_review_idx"),
        ]


class StoreRoom(models.Model):
    """库房: a store room; its template sets the climate ranges (repository.choices)."""

    code = models.CharField(_("room code"), max_length=20, unique=True)
    name = models.CharField(_("room name"), max_length=100)
    building = models.CharField(_("building"), max_length=100, blank=True)
    floor = models.CharField(_("floor"), max_length=20, blank=True)
    template = models.CharField(
        _("room template"), max_length=16, choices=RoomTemplate.choices, default=RoomTemplate.PAPER
    )
    keepers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="rooms_kept", verbose_name=_("keepers")
    )

    class Meta:
        verbose_name = _("store room")
        verbose_name_plural = _("store rooms")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ShelvingUnit(models.Model):
    """A shelving unit in a store room: fixed shelves or mobile compact shelving (密集架).

    Addressed by column (列), section (节), layer (层) and side (A/B for double-sided units).
    """

    room = models.ForeignKey(
        StoreRoom, on_delete=models.PROTECT, related_name="units", verbose_name=_("store room")
    )
    code = models.CharField(_("unit code"), max_length=20)  # e.g. "03" → 3号密集架
    name = models.CharField(_("unit name"), max_length=100, blank=True)
    kind = models.CharField(
        _("shelving kind"), max_length=8, choices=ShelvingKind.choices, default=ShelvingKind.MOBILE
    )
    columns = models.PositiveSmallIntegerField(_("columns"), default=1)  # 列
    sections = models.PositiveSmallIntegerField(_("sections"), default=1)  # 节
    layers = models.PositiveSmallIntegerField(_("layers"), default=1)  # 层
    sides = models.PositiveSmallIntegerField(_("sides"), default=1)  # 1 or 2 (A/B)
    position_capacity = models.PositiveIntegerField(_("capacity per position"), default=20)

    class Meta:
        verbose_name = _("shelving unit")
        verbose_name_plural = _("shelving units")
        ordering = ["room__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["room", "code"], name="unit_unique_code_per_room"),
            models.CheckConstraint(
                condition=models.Q(sides__in=[1, 2]), name="unit_sides_one_or_two"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.room.code}-{self.code} {self.name}".strip()


class Position(models.Model):
    """An addressable place on a shelf (one column × section × layer × side) with a capacity.

    ``code`` is printed on the shelf label and scanned; ``path`` is the shelf-order sort key
    (room, unit, side, column, section, layer, zero-padded) used for retrieval lists.
    """

    room = models.ForeignKey(
        StoreRoom, on_delete=models.PROTECT, related_name="positions", verbose_name=_("store room")
    )
    unit = models.ForeignKey(
        ShelvingUnit,
        on_delete=models.PROTECT,
        related_name="positions",
        verbose_name=_("shelving unit"),
    )
    side = models.CharField(_("side"), max_length=1, default="A")
    column = models.PositiveSmallIntegerField(_("column"))
    section = models.PositiveSmallIntegerField(_("section"))
    layer = models.PositiveSmallIntegerField(_("layer"))
    code = models.CharField(_("position code"), max_length=64, unique=True)
    path = models.CharField(_("shelf order"), max_length=128, db_index=True)
    capacity = models.PositiveIntegerField(_("capacity"), default=20)

    objects = PlaceQuerySet.as_manager()

    class Meta:
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "side", "column", "section", "layer"],
                name="position_unique_address",
            )
        ]

    def __str__(self) -> str:
        return self.code

    @staticmethod
    def make_code(room_code: str, unit_code: str, side: str, column: int, section: int, layer: int):
        """e.g. ``K01-03-A-02-04-3``: room, unit, side, column, section, layer."""
        return f"{room_code}-{unit_code}-{side}-{column:02d}-{section:02d}-{layer}"

    @staticmethod
    def make_path(room_code: str, unit_code: str, side: str, column: int, section: int, layer: int):
        return f"{room_code:>8}/{unit_code:>8}/{side}/{column:03d}/{section:03d}/{layer:03d}"

    def label(self) -> str:
        """Human address: ``K01 3号架 A面 第2列 第4节 第3层``."""
        return _(
            "%(room)s unit %(unit)s side %(side)s column %(col)s section %(sec)s layer %(lay)s"
        ) % {
            "room": self.room.code if self.room_id else "",
            "unit": self.unit.code if self.unit_id else "",
            "side": self.side,
            "col": self.column,
            "sec": self.section,
            "lay": self.layer,
        }


class Box(models.Model):
    """档案盒: a box holding volumes or items of one fonds; it is placed and moved as a whole
    (see repository/boxes.py). ``capacity`` counts places: a volume or a loose item takes one,
    items inside a boxed volume take none. ``room`` is where the box is kept: its position's
    room while it is shelved, and it stays when the box is taken off the shelf."""

    code = models.CharField(_("box code"), max_length=64, unique=True)
    fonds = models.ForeignKey(
        Fonds, on_delete=models.PROTECT, related_name="boxes", verbose_name=_("fonds")
    )
    room = models.ForeignKey(
        StoreRoom,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="boxes",
        verbose_name=_("store room"),
    )
    position = models.ForeignKey(
        Position,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="boxes",
        verbose_name=_("position"),
    )
    capacity = models.PositiveSmallIntegerField(_("box capacity"), default=20)
    notes = models.CharField(_("notes"), max_length=200, blank=True)
    # DA/T 22-2015 §6.4: one 年度, 保管期限 and 机构(问题) per box (set from its first contents,
    # repository/boxes.py); §6.4.1.2: the 盒脊 carries 全宗号, 年度, 保管期限, 起止件号, 盒号.
    number = models.PositiveIntegerField(_("box number"), null=True, blank=True)  # 盒号
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True)
    retention = models.CharField(_("retention"), max_length=8, blank=True)
    org_unit = models.CharField(_("organisational unit"), max_length=100, blank=True)
    # 备考表 (DA/T 22-2015 §6.4.2): 盒内文件情况说明, 整理人, 整理日期, 检查人, 检查日期.
    contents_note = models.TextField(_("notes on the contents"), blank=True)
    arranged_by = models.CharField(_("arranged by"), max_length=50, blank=True)
    arranged_on = models.DateField(_("arranged on"), null=True, blank=True)
    checked_by = models.CharField(_("checked by"), max_length=50, blank=True)
    checked_on = models.DateField(_("checked on"), null=True, blank=True)

    objects = PlaceQuerySet.as_manager()

    class Meta:
        verbose_name = _("box")
        verbose_name_plural = _("boxes")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(capacity__gte=1), name="box_capacity_at_least_one"
            ),
            models.UniqueConstraint(
                fields=["fonds", "number"],
                condition=models.Q(number__isnull=False),
                name="box_unique_number_per_fonds",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Move(models.Model):
    """One recorded move of a volume, item or box: from, to, who, when, why."""

    volume = models.ForeignKey(
        Volume, null=True, blank=True, on_delete=models.CASCADE, related_name="moves"
    )
    item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.CASCADE, related_name="moves"
    )
    box = models.ForeignKey(
        Box, null=True, blank=True, on_delete=models.CASCADE, related_name="moves"
    )
    from_position = models.ForeignKey(
        Position,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("from"),
    )
    to_position = models.ForeignKey(
        Position,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("to"),
    )
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("moved by"),
    )
    moved_at = models.DateTimeField(_("moved at"), auto_now_add=True, db_index=True)
    reason = models.CharField(_("reason"), max_length=200)

    objects = MoveQuerySet.as_manager()

    class Meta:
        verbose_name = _("move")
        verbose_name_plural = _("moves")
        ordering = ["-moved_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(volume__isnull=False, item__isnull=True, box__isnull=True)
                    | models.Q(volume__isnull=True, item__isnull=False, box__isnull=True)
                    | models.Q(volume__isnull=True, item__isnull=True, box__isnull=False)
                ),
                name="move_exactly_one_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.from_position or '—'} → {self.to_position or '—'}"

    @property
    def subject(self):
        return self.volume or self.item or self.box


def _page_path(instance: DigitalPage, filename: str, kind: str) -> str:
    owner = f"v{instance.volume_id}" if instance.volume_id else f"i{instance.item_id}"
    return f"repository/{kind}/{owner}/{filename}"


def original_path(instance, filename):
    return _page_path(instance, filename, "originals")


def web_path(instance, filename):
    return _page_path(instance, filename, "web")


def thumb_path(instance, filename):
    return _page_path(instance, filename, "thumbs")


class DigitalPage(models.Model):
    """A digitised page (scan) of a volume or item.

    The original is kept for staff only; the public and researchers get the web derivative with
    a "仅供查阅" watermark (rendered on the fly). ``withheld`` pages stay hidden from them when a
    record is opened in part.
    """

    volume = models.ForeignKey(
        Volume, null=True, blank=True, on_delete=models.CASCADE, related_name="pages_digitised"
    )
    item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.CASCADE, related_name="pages_digitised"
    )
    page_number = models.PositiveIntegerField(_("page number"))
    original = models.FileField(_("original"), upload_to=original_path, max_length=255)
    web = models.FileField(_("web derivative"), upload_to=web_path, max_length=255)
    thumbnail = models.FileField(_("thumbnail"), upload_to=thumb_path, max_length=255)
    format = models.CharField(_("format"), max_length=8)  # JPEG / PNG / TIFF (real format)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    withheld = models.BooleanField(_("withheld (opened in part)"), default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("digitised page")
        verbose_name_plural = _("digitised pages")
        ordering = ["page_number"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(volume__isnull=False, item__isnull=True)
                    | models.Q(volume__isnull=True, item__isnull=False)
                ),
                name="page_exactly_one_record",
            ),
            models.UniqueConstraint(
                fields=["volume", "page_number"],
                condition=models.Q(volume__isnull=False),
                name="page_unique_number_per_volume",
            ),
            models.UniqueConstraint(
                fields=["item", "page_number"],
                condition=models.Q(item__isnull=False),
                name="page_unique_number_per_item",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.record} p.{self.page_number}"

    @property
    def record(self):
        return self.volume or self.item


class OpeningReview(models.Model):
    """One opening decision (开放审核) on a volume or item; audited as well. The only way a
    record's 开放标识 changes (档案法 2020 第二十七条; review 会同档案形成单位或者移交单位,
    第三十条 and 档案法实施条例 2024 第三十条, whose opinion is kept here). An imported
    catalogue's status is kept as an imported decision naming its file, row and importer."""

    volume = models.ForeignKey(
        Volume, null=True, blank=True, on_delete=models.CASCADE, related_name="reviews"
    )
    item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.CASCADE, related_name="reviews"
    )
    decision = models.CharField(_("decision"), max_length=12, choices=OpeningDecision.choices)
    reason = models.TextField(_("reason"), blank=True)
    next_review_on = models.DateField(_("next review date"), null=True, blank=True)
    # 部分开放: the withheld page numbers, applied to pages scanned later as well.
    withheld_pages = models.JSONField(_("withheld pages"), default=list, blank=True)
    redaction_note = models.TextField(_("redaction note"), blank=True)
    status_after = models.CharField(
        _("access status after"), max_length=12, choices=AccessStatus.choices, blank=True
    )
    source = models.CharField(
        _("source"), max_length=8, choices=DecisionSource.choices, default=DecisionSource.REVIEW
    )
    source_file = models.CharField(_("source file"), max_length=255, blank=True)
    source_row = models.PositiveIntegerField(_("source row"), null=True, blank=True)
    # The forming or transferring unit's opinion (档案法 2020 第三十条).
    unit_name = models.CharField(_("transferring unit"), max_length=200, blank=True)
    unit_opinion_on = models.DateField(_("date of the unit's opinion"), null=True, blank=True)
    unit_opinion = models.TextField(_("unit's opinion"), blank=True)
    unit_attachment = models.FileField(
        _("unit's opinion (attachment)"), upload_to="repository/opinions/", blank=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("opening review decision")
        verbose_name_plural = _("opening review decisions")
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.volume or self.item} {self.decision}"


class SecrecyTerm(models.Model):
    """保密期限 and 定密依据 of a classified volume or item (保守国家秘密法 2024 第十五条:
    years, a date, or 长期; 绝密 ≤ 30, 机密 ≤ 20, 秘密 ≤ 10 years unless otherwise ruled).

    The one source of 保密期限: the description element (form, API, import) is parsed and
    written here by ``services.classification.set_secrecy_text``; ``record.secrecy_period``
    reads ``label()``."""

    volume = models.OneToOneField(
        Volume, null=True, blank=True, on_delete=models.CASCADE, related_name="secrecy"
    )
    item = models.OneToOneField(
        Item, null=True, blank=True, on_delete=models.CASCADE, related_name="secrecy"
    )
    kind = models.CharField(_("secrecy period"), max_length=8, choices=SecrecyPeriodKind.choices)
    years = models.PositiveSmallIntegerField(_("years"), null=True, blank=True)
    # Counted from the day the classification was marked (保密期限自标明的制发日起算).
    marked_on = models.DateField(_("classified on"), null=True, blank=True)
    ends_on = models.DateField(_("secrecy ends on"), null=True, blank=True)  # None: 长期
    basis = models.CharField(_("classification basis"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("secrecy period")
        verbose_name_plural = _("secrecy periods")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(volume__isnull=False, item__isnull=True)
                    | models.Q(volume__isnull=True, item__isnull=False)
                ),
                name="secrecy_exactly_one_record",
            )
        ]

    def __str__(self) -> str:
        return f"{self.volume or self.item} {self.label()}"

    def label(self) -> str:
        if self.kind == SecrecyPeriodKind.LONG_TERM:
            return str(_("long-term"))
        if self.kind == SecrecyPeriodKind.YEARS:
            return str(_("%(n)s years") % {"n": self.years})
        return f"{self.ends_on:%Y-%m-%d}" if self.ends_on else ""


class Declassification(models.Model):
    """解密 or 降密 of a volume or item (保守国家秘密法 2024 第二十四条: decided by the
    原定密机关、单位 or its superior, or the successor of an abolished one). Audited."""

    volume = models.ForeignKey(
        Volume, null=True, blank=True, on_delete=models.CASCADE, related_name="declassifications"
    )
    item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.CASCADE, related_name="declassifications"
    )
    from_level = models.PositiveSmallIntegerField(_("from"), choices=Classification.choices)
    to_level = models.PositiveSmallIntegerField(_("to"), choices=Classification.choices)
    basis = models.TextField(_("basis"))
    authority = models.CharField(_("deciding authority"), max_length=200)
    decided_on = models.DateField(_("decided on"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("declassification")
        verbose_name_plural = _("declassifications")
        ordering = ["-recorded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.volume or self.item} {self.from_level}→{self.to_level}"


class Appraisal(models.Model):
    """鉴定 of a record whose 保管期限 ran out: keep with a new retention, or destroy
    (档案法 2020 第二十一条: no record is destroyed without appraisal). The record link is
    cleared when the record is destroyed; the code and title stay."""

    volume = models.ForeignKey(
        Volume, null=True, blank=True, on_delete=models.SET_NULL, related_name="appraisals"
    )
    item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.SET_NULL, related_name="appraisals"
    )
    kind = models.CharField(max_length=8)  # volume / item
    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="+")
    reference_code = models.CharField(_("reference code"), max_length=64)
    title = models.CharField(_("title"), max_length=500)
    decision = models.CharField(_("decision"), max_length=8, choices=AppraisalDecision.choices)
    new_retention = models.CharField(_("new retention"), max_length=4, blank=True)
    opinion = models.TextField(_("appraisal opinion"))
    appraisers = models.CharField(_("appraisers"), max_length=300)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now_add=True)
    destroyed = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("appraisal")
        verbose_name_plural = _("appraisals")
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.reference_code} {self.decision}"


class Destruction(models.Model):
    """One destruction (销毁) of appraised records, supervised by two persons (监销); its
    销毁清册 is printed from the tombstones it left."""

    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(_("method"), max_length=100)
    place = models.CharField(_("place"), max_length=200)
    destroyed_on = models.DateField(_("destroyed on"))
    supervisor_1 = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    supervisor_2 = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("destruction")
        verbose_name_plural = _("destructions")
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(supervisor_1=models.F("supervisor_2")),
                name="destruction_two_persons",
            )
        ]

    def __str__(self) -> str:
        return f"{self.fonds.code} {self.destroyed_on}"


class Tombstone(models.Model):
    """What remains of a destroyed record (DA/T 18-2022: 档号, 题名, the appraisal decision and
    销毁情况). Never listed by search or the catalogue; shown in the audit trail and the
    销毁清册."""

    kind = models.CharField(max_length=8)
    record_id = models.PositiveBigIntegerField()
    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="+")
    reference_code = models.CharField(_("reference code"), max_length=64, unique=True)
    title = models.CharField(_("title"), max_length=500)
    retention = models.CharField(_("retention"), max_length=4)
    classification = models.PositiveSmallIntegerField(_("classification"), default=0)
    pages = models.PositiveIntegerField(_("pages"), null=True, blank=True)
    appraisal = models.ForeignKey(Appraisal, on_delete=models.PROTECT, related_name="+")
    destruction = models.ForeignKey(
        Destruction, on_delete=models.PROTECT, related_name="tombstones"
    )
    destruction_note = models.CharField(_("destruction details"), max_length=300)  # 销毁情况
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("tombstone")
        verbose_name_plural = _("tombstones")
        ordering = ["reference_code"]

    def __str__(self) -> str:
        return f"{self.reference_code} {self.title}"


class Stocktake(models.Model):
    """盘点 of a room or one shelving unit: scans recorded while open, report at close."""

    room = models.ForeignKey(StoreRoom, on_delete=models.PROTECT, related_name="stocktakes")
    unit = models.ForeignKey(
        ShelvingUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="stocktakes"
    )
    status = models.CharField(
        _("status"), max_length=8, choices=StocktakeStatus.choices, default=StocktakeStatus.OPEN
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    report = models.JSONField(_("discrepancy report"), null=True, blank=True)

    class Meta:
        verbose_name = _("stocktake")
        verbose_name_plural = _("stocktakes")
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        scope = f"{self.room.code}-{self.unit.code}" if self.unit_id else self.room.code
        return f"{scope} {self.opened_at:%Y-%m-%d}"


class StocktakeScan(models.Model):
    """One scanned code during a stocktake: a record (or box) code seen at a position."""

    stocktake = models.ForeignKey(Stocktake, on_delete=models.CASCADE, related_name="scans")
    position = models.ForeignKey(Position, null=True, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("scanned code"), max_length=64)
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    scanned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("stocktake scan")
        verbose_name_plural = _("stocktake scans")
        constraints = [
            models.UniqueConstraint(fields=["stocktake", "code"], name="scan_unique_code")
        ]

    def __str__(self) -> str:
        return self.code


def new_import_token() -> str:
    return uuid.uuid4().hex


class ImportJob(models.Model):
    """A catalogue import (dry run or commit) run in the background by ``run_imports``.

    The uploaded file lives in the default storage (MEDIA_ROOT) at ``file_path``; the rejected
    rows of a finished run at ``rejected_path`` (JSON lines: row number, cells, reason).
    """

    class Mode(models.TextChoices):
        DRY_RUN = "dry_run", _("dry run")
        COMMIT = "commit", _("commit")

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    token = models.CharField(max_length=32, unique=True, default=new_import_token, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    fonds = models.ForeignKey(
        Fonds, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.DRY_RUN)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    filename = models.CharField(max_length=255)
    file_path = models.CharField(max_length=255)
    options = models.JSONField(default=dict, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    rejected_path = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=128, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "created_at"], name="importjob_state_created")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.mode}, {self.state})"

    @property
    def finished(self) -> bool:
        return self.state in {self.State.DONE, self.State.FAILED}
