"""Enumerations shared by accounts and the catalogue.

``Classification`` is an ``IntegerChoices`` rather than ``TextChoices`` on purpose: levels are
ordered, and visibility rules compare them (``classification__lte=user.clearance``) inside the
database query.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Classification(models.IntegerChoices):
    """密级 of a record, and the clearance of a user (the highest level they may see)."""

    NONE = 0, _("Unclassified")
    SECRET = 1, _("Secret")  # 秘密
    CONFIDENTIAL = 2, _("Confidential")  # 机密
    TOP_SECRET = 3, _("Top secret")  # 绝密


class Role(models.TextChoices):
    """Roles are Django groups with these names, created by a data migration."""

    FRONT_DESK = "front_desk", _("Front desk")  # 利用接待
    APPROVER = "approver", _("Approver")  # 审批人
    ARCHIVIST = "archivist", _("Archivist")  # 档案员
    KEEPER = "keeper", _("Store-room keeper")  # 库房管理员
    ADMINISTRATOR = "administrator", _("Administrator")  # 系统管理员
    RESEARCHER = "researcher", _("Researcher")  # 利用者 (registered public user)


STAFF_ROLES = frozenset(
    {Role.FRONT_DESK, Role.APPROVER, Role.ARCHIVIST, Role.KEEPER, Role.ADMINISTRATOR}
)


class IdDocumentType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("Resident identity card")  # 居民身份证 (GB 11643)
    PASSPORT = "passport", _("Passport")  # 护照
    OTHER = "other", _("Other document")  # 其他证件 (港澳台居民居住证、军官证 …)


class ReaderCategory(models.TextChoices):
    """Who a registered reader is: a person, an outside organisation, or one of the archive's
    own (internal) units, the only ones originals may be lent to."""

    INDIVIDUAL = "individual", _("Individual")  # 个人
    ORGANISATION = "organisation", _("Outside organisation")  # 外单位
    INTERNAL = "internal", _("Internal unit")  # 内部单位
