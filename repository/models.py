"""The catalogue: fonds → category → volume (optional) → item, and the store rooms.

Fixed levels with foreign keys (no nested sets). Volumes and items share the DA/T 18-2022
description fields (``DescribedRecord``); both carry ``fonds`` directly so that visibility and
browsing filter on one indexed column.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from accounts.choices import Classification
from repository.choices import AccessStatus, Carrier, DatePrecision, Retention, RoomTemplate
from repository.querysets import RecordQuerySet

OPENING_AGE_YEARS = 25  # Archives Law: records generally open 25 years after formation


class Fonds(models.Model):
    """全宗: all records of one creating body. Staff see a fonds through an object permission."""

    code = models.CharField(_("fonds number"), max_length=20, unique=True)  # 全宗号, e.g. J012
    name = models.CharField(_("fonds name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
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
    creator = models.CharField(_("creator"), max_length=200, blank=True)  # 责任者
    # 日期: full or partial (year, year-month) or a range; start/end bound it for queries.
    date_start = models.DateField(_("date (from)"), null=True, blank=True)
    date_end = models.DateField(_("date (to)"), null=True, blank=True)
    date_precision = models.CharField(
        _("date precision"), max_length=8, choices=DatePrecision.choices, default=DatePrecision.DAY
    )
    pages = models.PositiveIntegerField(_("pages"), null=True, blank=True)  # 页数
    retention = models.CharField(
        _("retention"), max_length=4, choices=Retention.choices, default=Retention.PERMANENT
    )
    classification = models.PositiveSmallIntegerField(
        _("classification"), choices=Classification.choices, default=Classification.NONE
    )
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
    # Increases on every change; the search index never overwrites a newer version.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RecordQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.reference_code} {self.title}"

    @property
    def is_public(self) -> bool:
        return (
            self.access_status == AccessStatus.OPEN and self.classification == Classification.NONE
        )


class Volume(DescribedRecord):
    """案卷: a file of items (optional since the 以件为单位 reform)."""

    class Meta:
        verbose_name = _("volume")
        verbose_name_plural = _("volumes")
        indexes = [
            models.Index(fields=["fonds", "category", "filing_year"], name="volume_browse_idx"),
            models.Index(fields=["access_status", "classification"], name="volume_public_idx"),
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
