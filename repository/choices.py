"""Enumerations of the catalogue (DA/T 18-2022) and the store rooms (JGJ 25-2010)."""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.choices import Classification  # noqa: F401  (re-exported: records use it)


class Retention(models.TextChoices):
    """保管期限; the value is the retention code used in reference codes."""

    PERMANENT = "Y", _("Permanent")  # 永久
    YEARS_30 = "D30", _("30 years")  # 定期30年
    YEARS_10 = "D10", _("10 years")  # 定期10年


class AccessStatus(models.TextChoices):
    """开放标识."""

    OPEN = "open", _("Open")  # 开放
    CONTROLLED = "controlled", _("Controlled")  # 控制使用
    UNREVIEWED = "unreviewed", _("Not yet reviewed")  # 未审核


class Carrier(models.TextChoices):
    """载体类型."""

    PAPER = "paper", _("Paper")  # 纸质
    PHOTO = "photo", _("Photograph")  # 照片
    AUDIO = "audio", _("Audio recording")  # 录音
    VIDEO = "video", _("Video recording")  # 录像
    ELECTRONIC = "electronic", _("Electronic")  # 电子
    OBJECT = "object", _("Object")  # 实物


class DatePrecision(models.TextChoices):
    YEAR = "year", _("Year")
    MONTH = "month", _("Year and month")
    DAY = "day", _("Full date")


class ShelvingKind(models.TextChoices):
    FIXED = "fixed", _("Fixed shelving")  # 固定架
    MOBILE = "mobile", _("Mobile compact shelving")  # 密集架


class OpeningDecision(models.TextChoices):
    """开放审核 decisions."""

    OPEN = "open", _("Open")  # 开放
    CONTROLLED = "controlled", _("Keep controlled")  # 继续控制
    PARTIAL = "partial", _("Open in part")  # 部分开放


class StocktakeStatus(models.TextChoices):
    OPEN = "open", _("In progress")
    CLOSED = "closed", _("Closed")


class RoomTemplate(models.TextChoices):
    """Store-room kinds from the climate table (SPEC; JGJ 25-2010)."""

    PAPER = "paper", _("Paper records store")  # 纸质档案库
    SPECIAL = "special", _("Special collections store")  # 特藏库
    TAPE = "tape", _("Audio/video tape store")  # 音像磁带库
    FILM_COPY = "film_copy", _("Film store (copies)")  # 胶片拷贝库
    FILM_MASTER = "film_master", _("Film store (masters)")  # 胶片母片库


@dataclass(frozen=True)
class ClimateRange:
    temp_min: float
    temp_max: float
    rh_min: float
    rh_max: float
    # Allowed fluctuation over 24 h.
    temp_swing: float = 2.0
    rh_swing: float = 5.0


CLIMATE_RANGES: dict[str, ClimateRange] = {
    RoomTemplate.PAPER: ClimateRange(14, 24, 45, 60),
    RoomTemplate.SPECIAL: ClimateRange(14, 20, 45, 55),
    RoomTemplate.TAPE: ClimateRange(14, 24, 40, 60),
    RoomTemplate.FILM_COPY: ClimateRange(14, 24, 40, 60),
    RoomTemplate.FILM_MASTER: ClimateRange(13, 15, 35, 45),
}
