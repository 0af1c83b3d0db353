"""Enumerations of the borrowing app: request states, purposes, identity documents, decisions."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


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
    S.RETRIEVED: frozenset({S.CHECKED_OUT, S.CANCELLED}),
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


class Purpose(models.TextChoices):
    READING = "reading", _("Reading")  # 查阅
    COPYING = "copying", _("Copying")  # 复制
    # 摘录 (the term of the standards; a context keeps it apart from other "Excerpt"s).
    EXCERPT = "excerpt", pgettext_lazy("use method", "Excerpt")
    LENDING = "lending", _("Lending out of the building")  # 外借


class IdDocumentType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("Resident identity card")  # 居民身份证
    PASSPORT = "passport", _("Passport")  # 护照
    OTHER = "other", _("Other document")  # 其他证件


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


class ScanKind(models.TextChoices):
    RETURN = "return", _("Return")
    SHELVE = "shelve", _("Re-shelve")
