"""Enumerations of the borrowing app: request states, purposes, identity documents, decisions."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.choices import IdDocumentType, ReaderCategory

__all__ = [
    "IdDocumentType",
    "ReaderCategory",
]  # re-exported: the reader's identity lives in accounts now


class RequestState(models.TextChoices):
    DRAFT = "draft", _("Draft")  # 草稿
    SUBMITTED = "submitted", _("Submitted")  # 已提交
    UNDER_REVIEW = "under_review", _("Under review")  # 审批中
    APPROVED = "approved", _("Approved")  # 已批准
    PARTLY_APPROVED = "partly_approved", _("Partly approved")  # 部分批准
    REJECTED = "rejected", _("Rejected")  # 未批准
    RETRIEVED = "retrieved", _("Retrieved")  # 已调档
    CHECKED_OUT = "checked_out", _("Checked out")  # 已借出
    OVERDUE = "overdue", _("Overdue")  # 逾期
    RETURNED = "returned", _("Returned")  # 已归还
    CLOSED = "closed", _("Closed")  # 已结束
    CANCELLED = "cancelled", _("Cancelled")  # 已撤销


S = RequestState
# The state machine: from → allowed targets. Cancel is allowed at any point before check-out.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset(
        {S.UNDER_REVIEW, S.APPROVED, S.PARTLY_APPROVED, S.REJECTED, S.CANCELLED}
    ),
    S.UNDER_REVIEW: frozenset({S.APPROVED, S.PARTLY_APPROVED, S.REJECTED, S.CANCELLED}),
    S.APPROVED: frozenset({S.RETRIEVED, S.CANCELLED}),
    S.PARTLY_APPROVED: frozenset({S.RETRIEVED, S.CANCELLED}),
    S.REJECTED: frozenset({S.CLOSED}),
    # RETRIEVED → CLOSED: a request served by copies or certificates only (nothing lent).
    S.RETRIEVED: frozenset({S.CHECKED_OUT, S.CANCELLED, S.CLOSED}),
    S.CHECKED_OUT: frozenset({S.RETURNED, S.OVERDUE}),
    S.OVERDUE: frozenset({S.RETURNED}),
    S.RETURNED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}
OPEN_STATES = frozenset(
    {
        S.SUBMITTED,
        S.UNDER_REVIEW,
        S.APPROVED,
        S.PARTLY_APPROVED,
        S.RETRIEVED,
        S.CHECKED_OUT,
        S.OVERDUE,
    }
)
AWAITING_DECISION = frozenset({S.SUBMITTED, S.UNDER_REVIEW})
ON_LOAN_STATES = frozenset({S.CHECKED_OUT, S.OVERDUE})


class UseMethod(models.TextChoices):
    """利用方式: how a record is used (one per request line). Archives serve records in the
    reading room, by copies, extracts and certificates; originals leave the building only by
    exception (档案法 2020 第二十八条; 实施条例 2024 第三十六条、第三十七条)."""

    READING = "reading", _("Reading in the reading room")  # 查阅
    COPYING = "copying", _("Copying")  # 复制
    # 摘录 (the term of the standards; a context keeps it apart from other "Excerpt"s).
    EXCERPT = "excerpt", pgettext_lazy("use method", "Excerpt")
    CERTIFICATE = "certificate", _("Archival certificate")  # 出具档案证明
    LENDING = "lending", _("Lending (internal units)")  # 借出


class CopyMedium(models.TextChoices):
    PAPER = "paper", _("Paper")  # 纸质
    DIGITAL = "digital", _("Digital")  # 电子


class EffectCategory(models.TextChoices):
    """利用效果: what the use achieved (recorded after use)."""

    EVIDENCE = "evidence", _("Evidence obtained")  # 取得凭证
    RESEARCH = "research", _("Research result")  # 研究成果
    WORK = "work", _("Work reference")  # 工作参考
    ECONOMIC = "economic", _("Economic benefit")  # 经济效益
    PUBLICITY = "publicity", _("Publicity and education")  # 宣传教育
    NONE = "none", _("No result")  # 未取得效果


class LineDecision(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")


class ApproverRole(models.TextChoices):
    FRONT_DESK = "front_desk", _("Front desk")
    APPROVER = "approver", _("Approver")


class UserType(models.TextChoices):
    RESEARCHER = "researcher", _("Researcher")
    STAFF = "staff", _("Staff")
    ORGANISATION = "organisation", _("Outside organisation")
    INTERNAL = "internal", _("Internal unit")


class ScanKind(models.TextChoices):
    RETURN = "return", _("Return")
    SHELVE = "shelve", _("Re-shelve")
