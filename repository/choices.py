"""Enumerations of the catalogue (DA/T 18-2022) and the store rooms (JGJ 25-2010)."""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.choices import Classification  # noqa: F401  (re-exported: records use it)


class Retention(models.TextChoices):
    """保管期限; the value is the retention code used in reference codes."""

    PERMANENT = "Y", _("Permanent")  # 永久
    YEARS_30 = "D30", _("30 years")  # 定期30年
    YEARS_10 = "D10", _("10 years")  # 定期10年


class AccessStatus(models.TextChoices):
    """开放标识 (DA/T 18-2022 开放状态). It changes only through an opening decision
    (``repository.services.opening``; 档案法 2020 第二十七条、第三十条)."""

    OPEN = "open", _("Open")  # 开放
    PARTIAL = "partial", _("Open in part")  # 部分开放: released pages only
    CONTROLLED = "controlled", _("Controlled")  # 控制使用
    UNREVIEWED = "unreviewed", _("Not yet reviewed")  # 未审核


# The statuses under which an unclassified record reaches the public (部分开放: its released
# pages only). Every door reads this through ``repository.querysets.visible_q``.
PUBLIC_STATUSES = (AccessStatus.OPEN, AccessStatus.PARTIAL)


class Carrier(models.TextChoices):
    """载体类型."""

    PAPER = "paper", _("Paper")  # 纸质
    PHOTO = "photo", _("Photograph")  # 照片
    AUDIO = "audio", _("Audio recording")  # 录音
    VIDEO = "video", _("Video recording")  # 录像
    ELECTRONIC = "electronic", _("Electronic")  # 电子
    OBJECT = "object", pgettext_lazy("carrier type", "Object")  # 实物 (not the audit log's 对象)


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
    DEFERRED = "deferred", _("Defer")  # 暂缓审核: status unchanged, back on a later date


class DecisionSource(models.TextChoices):
    """Where an opening decision comes from."""

    REVIEW = "review", _("Opening review")  # 开放审核 at this archive
    IMPORT = "import", _("Imported catalogue")  # status carried by an imported catalogue


class SecrecyPeriodKind(models.TextChoices):
    """保密期限 (保守国家秘密法 2024 第十五条): a number of years, a date, or 长期."""

    YEARS = "years", _("Years")
    DATE = "date", _("Until a date")
    LONG_TERM = "long", _("Long-term")  # 长期


class AppraisalDecision(models.TextChoices):
    """鉴定 of a record whose 保管期限 ran out (档案法 2020 第二十一条)."""

    KEEP = "keep", _("Keep, with a new retention")  # 继续保存
    DESTROY = "destroy", _("Destroy")  # 销毁


class StocktakeStatus(models.TextChoices):
    OPEN = "open", _("In progress")
    CLOSED = "closed", _("Closed")


class RoomTemplate(models.TextChoices):
    """Store-room kinds with their climate (CLIMATE_RANGES below says where each range comes from).

    JGJ 25-2010 (档案馆建筑设计规范) sets the first five: table 5.2.1 (paper) and table 5.2.2,
    which lists only 特藏库, 音像磁带库 and 胶片库 (拷贝片 / 母片). The other carriers have their
    ranges in their own standards (photographs GB/T 11821-2002, magnetic carriers DA/T 15-1995,
    electronic records on discs GB/T 18894-2002, microfilm after GB/T 18444-2001 / ISO 5466).
    """

    PAPER = "paper", _("Paper records store")  # 纸质档案库
    SPECIAL = "special", _("Special collections store")  # 特藏库
    TAPE = "tape", _("Audio/video tape store")  # 音像磁带库
    FILM_COPY = "film_copy", _("Film store (copies)")  # 胶片拷贝库
    FILM_MASTER = "film_master", _("Film store (masters)")  # 胶片母片库
    PHOTO = "photo", _("Photograph store")  # 照片档案库
    NEGATIVE = "negative", _("Negative store")  # 底片库
    MICROFILM = "microfilm", _("Microfilm store")  # 缩微品库
    MAGNETIC = "magnetic", _("Magnetic media store")  # 磁性载体档案库
    OPTICAL = "optical", _("Optical disc store")  # 光盘库


@dataclass(frozen=True)
class ClimateRange:
    temp_min: float
    temp_max: float
    rh_min: float
    rh_max: float
    # JGJ 25-2010 §5.2.3: "档案库在选定温、湿度后，每昼夜温度波动幅度不得大于±2℃，相对湿度
    # 波动幅度不得大于±5%" — once the set points are chosen, the day-and-night fluctuation
    # must stay within ±2 °C and ±5 %RH of them (measured as deviation from the set point).
    temp_swing: float = 2.0
    rh_swing: float = 5.0
    basis: str = "JGJ 25-2010"  # where the range comes from (shown in reports)

    @property
    def temp_mid(self) -> float:
        return round((self.temp_min + self.temp_max) / 2, 1)

    @property
    def rh_mid(self) -> float:
        return round((self.rh_min + self.rh_max) / 2, 1)


CLIMATE_RANGES: dict[str, ClimateRange] = {
    # JGJ 25-2010 table 5.2.1 纸质档案库: 14–24 °C, 45–60 %RH.
    RoomTemplate.PAPER: ClimateRange(14, 24, 45, 60, basis="JGJ 25-2010 表5.2.1"),
    # JGJ 25-2010 table 5.2.2 特殊档案库: 特藏库 14–20 °C, 45–55 %RH; 音像磁带库 14–24 °C,
    # 40–60 %RH; 胶片库 拷贝片 14–24 °C, 40–60 %RH; 胶片库 母片 13–15 °C, 35–45 %RH.
    RoomTemplate.SPECIAL: ClimateRange(14, 20, 45, 55, basis="JGJ 25-2010 表5.2.2"),
    RoomTemplate.TAPE: ClimateRange(14, 24, 40, 60, basis="JGJ 25-2010 表5.2.2"),
    RoomTemplate.FILM_COPY: ClimateRange(14, 24, 40, 60, basis="JGJ 25-2010 表5.2.2"),
    RoomTemplate.FILM_MASTER: ClimateRange(13, 15, 35, 45, basis="JGJ 25-2010 表5.2.2"),
    # Not in JGJ 25-2010 table 5.2.2 (it has no photograph, disc, magnetic or microfilm row):
    # GB/T 11821-2002 (照片档案管理规范) storage table, long-term (长期贮存) black-and-white
    # prints: at most 18 °C, 30–50 %RH. The standard gives no lower temperature; 14 °C is the
    # lowest store temperature of JGJ 25-2010 tables 5.2.1/5.2.2 for non-master stores.
    # (Colour prints need ≤ 2 °C, 30–40 %RH: a cold store, not a room template here.)
    RoomTemplate.PHOTO: ClimateRange(14, 18, 30, 50, basis="GB/T 11821-2002"),
    # GB/T 11821-2002, long-term black-and-white negatives (黑白底片): ≤ 21 °C at 20–30 %RH,
    # ≤ 15 °C at 20–40 %RH or ≤ 10 °C at 20–50 %RH; the 15 °C row, with the 13 °C floor of
    # JGJ 25-2010's master-film store (negatives are camera originals like masters).
    RoomTemplate.NEGATIVE: ClimateRange(13, 15, 20, 40, basis="GB/T 11821-2002"),
    # Silver-gelatin microfilm, permanent keeping (永久保存): the same three rows as the
    # negatives (GB/T 18444-2001 idt ISO 5466, as tabulated for archival microforms); the
    # ≤ 15 °C / 20–40 %RH row, 13 °C floor as above.
    RoomTemplate.MICROFILM: ClimateRange(13, 15, 20, 40, basis="GB/T 18444-2001"),
    # DA/T 15-1995 (磁性载体档案管理与保护规范): magnetic-carrier stores 14–24 °C, 40–60 %RH.
    RoomTemplate.MAGNETIC: ClimateRange(14, 24, 40, 60, basis="DA/T 15-1995"),
    # GB/T 18894-2002 (电子文件归档与管理规范), offline carriers of electronic records:
    # 17–20 °C, 35–45 %RH (within the 4–20 °C, 20–50 %RH storage environment of DA/T 38).
    RoomTemplate.OPTICAL: ClimateRange(17, 20, 35, 45, basis="GB/T 18894-2002"),
}
