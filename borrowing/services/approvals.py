"""The approval chain (审批): rules, the steps a request needs, who may decide a step, the
decision, and the digital grants it opens."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.audit import record_event
from accounts.choices import Classification
from accounts.models import User
from accounts.services import notify_user
from borrowing import digital
from borrowing.access import can_handle
from borrowing.choices import AWAITING_DECISION, ApproverRole, LineDecision, RequestState, UseMethod
from borrowing.models import AccessRequest, AccessSettings, ApprovalDecision, ApprovalRule
from borrowing.roles import can_approve, can_decide_desk_step
from borrowing.services.common import (
    BorrowingError,
    NotAllowed,
    fail,
    lock_request,
    request_notice,
    request_snapshot,
    require_handles,
)
from repository.choices import AccessStatus

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "priority": 10,
        "min_classification": Classification.SECRET,
        "access_status": "",
        "method": "",
        "role": ApproverRole.APPROVER,
        "steps": 2,
        "description": gettext_noop("Classified records: approver, then a second approver"),
    },
    {
        "priority": 20,
        "min_classification": 0,
        "access_status": "",
        "method": UseMethod.LENDING,
        "role": ApproverRole.APPROVER,
        "steps": 2,
        "description": gettext_noop(
            "Lending originals (internal units): approver, then senior approver"
        ),
    },
    {
        "priority": 30,
        "min_classification": 0,
        "access_status": AccessStatus.CONTROLLED,
        "method": "",
        "role": ApproverRole.APPROVER,
        "steps": 1,
        "description": gettext_noop("Controlled records"),
    },
    {
        "priority": 40,
        "min_classification": 0,
        "access_status": AccessStatus.UNREVIEWED,
        "method": "",
        "role": ApproverRole.APPROVER,
        "steps": 1,
        "description": gettext_noop("Records not yet reviewed for opening"),
    },
    {
        "priority": 100,
        "min_classification": 0,
        "access_status": "",
        "method": "",
        "role": ApproverRole.FRONT_DESK,
        "steps": 1,
        "description": gettext_noop("Open records: front desk"),
    },
]


def compute_chain(records: Sequence, methods: Iterable[str]) -> list[dict[str, int | str]]:
    """The approval steps for these records and methods of use, from the first matching rule
    for the most restrictive record. Each approver must be cleared to the highest
    classification. Each step carries the rule that asked for it (``reason``: why approval is
    needed, shown to the approver). Lending originals (借出) always needs an approver and at
    least the settings' number of steps (档案法实施条例 2024 第三十七条: 档案原件一般不外借)."""
    methods = {methods} if isinstance(methods, str) else set(methods)
    level = max((int(r.classification) for r in records), default=0)
    statuses = {r.access_status for r in records}
    rules = list(ApprovalRule.objects.all()) or [ApprovalRule(**rule) for rule in DEFAULT_RULES]
    chosen = None
    for rule in rules:
        if level < rule.min_classification:
            continue
        if rule.access_status and rule.access_status not in statuses:
            continue
        if rule.method and rule.method not in methods:
            continue
        chosen = rule
        break
    role, steps = (chosen.role, chosen.steps) if chosen else (ApproverRole.APPROVER, 1)
    reason = (chosen.description or str(chosen)) if chosen else gettext_noop("Default rule")
    if UseMethod.LENDING in methods:
        role = ApproverRole.APPROVER
        lending_steps = AccessSettings.current().lending_steps
        if steps < lending_steps:
            steps = lending_steps
            reason = gettext_noop(
                "Lending originals (internal units): approver, then senior approver"
            )
    return [{"role": str(role), "clearance": level, "reason": reason} for _step in range(steps)]


def chain_in_words(chain: Sequence[dict[str, Any]]) -> list[str]:
    """The chain as people read it: "第 1 步：审批人（需 1 人）" (each step is one person)."""
    return [
        _("Step %(n)d: %(role)s (%(people)d person needed)")
        % {"n": n, "role": ApproverRole(step["role"]).label, "people": 1}
        for n, step in enumerate(chain, start=1)
    ]


def current_step(req: AccessRequest) -> dict[str, Any] | None:
    """The step waiting for a decision, or ``None``."""
    if req.state not in AWAITING_DECISION or not req.chain:
        return None
    done = req.decisions.count()
    return req.chain[done] if done < len(req.chain) else None


INBOX_CAP = 500


def _role_allows(user: User, step: dict[str, Any]) -> bool:
    if step["role"] == ApproverRole.APPROVER:
        return can_approve(user)
    return can_decide_desk_step(user)


def awaiting_my_decision(user: User) -> list[AccessRequest]:
    """待我审批: requests waiting for a step this user may take (role, clearance, not their own,
    no earlier step of theirs), among those they handle (the borrowing door), oldest first.
    Each comes with ``step`` (the step waiting) and ``step_number``."""
    if not (can_approve(user) or can_decide_desk_step(user)):
        return []
    candidates = (
        AccessRequest.objects.handled_by(user)
        .filter(state__in=AWAITING_DECISION)
        .exclude(requester=user)
        .select_related("requester", "purpose")
        .prefetch_related("decisions")
        .order_by("submitted_at", "id")[:INBOX_CAP]
    )
    mine = []
    for req in candidates:
        decisions = list(req.decisions.all())
        chain = req.chain or []
        if len(decisions) >= len(chain):
            continue
        step = chain[len(decisions)]
        if any(d.decided_by_id == user.pk for d in decisions):
            continue
        if not _role_allows(user, step) or int(user.clearance) < int(step["clearance"]):
            continue
        req.step = step
        req.step_number = len(decisions) + 1
        mine.append(req)
    return mine


def can_decide_step(user: User, step: dict[str, Any], req: AccessRequest) -> bool:
    """May ``user`` decide ``step`` of ``req``: the step's role, a clearance at or above the
    request's records, not their own request, not a step after one they decided already, and
    every record of the request visible to them (the borrowing door: clearance AND a
    permission on each record's fonds). A step they may not take is not offered."""
    return (
        _role_allows(user, step)
        and int(user.clearance) >= int(step["clearance"])
        and req.requester_id != user.pk
        and not req.decisions.filter(decided_by=user).exists()
        and can_handle(user, req)
    )


@transaction.atomic
def decide_access_request(
    req: AccessRequest,
    *,
    acting_user: User,
    approve: Iterable[int],
    refuse: Iterable[int] = (),
    reason: str = "",
) -> AccessRequest:
    """Record one step of the approval chain. ``approve``/``refuse`` are line ids; lines not
    named are refused. A refusal needs a reason. The last step decides the request."""
    req = lock_request(req)
    if req.state not in AWAITING_DECISION:
        req.transition(RequestState.APPROVED)  # raises the clear state-machine message
    if req.requester_id == acting_user.pk:
        fail(NotAllowed, _("Nobody may approve their own request."), "own_request")
    decisions = list(req.decisions.all())
    step_index = len(decisions)
    chain = req.chain or [{"role": ApproverRole.APPROVER, "clearance": req.max_classification}]
    step = chain[step_index]
    if any(d.decided_by_id == acting_user.pk for d in decisions):
        fail(NotAllowed, _("The next step needs a different approver."), "same_approver")
    if int(acting_user.clearance) < int(step["clearance"]):
        fail(
            NotAllowed,
            _("Your clearance is below the classification of these records."),
            "clearance",
        )
    require_handles(req, acting_user)
    if not can_decide_step(acting_user, step, req):
        fail(NotAllowed, _("This step must be decided by an approver."), "wrong_role")
    lines = {line.pk: line for line in req.lines.all()}
    # Only lines still approved by earlier steps are open to this one.
    open_ids = {pk for pk, line in lines.items() if line.decision != LineDecision.REFUSED}
    approve_ids = {int(pk) for pk in approve}
    unknown = approve_ids - set(lines)
    refuse_ids = {int(pk) for pk in refuse} | (open_ids - approve_ids)
    unknown |= refuse_ids - set(lines)
    if unknown:
        fail(BorrowingError, _("These records are not part of the request."), "unknown_lines")
    if approve_ids - open_ids:
        fail(
            BorrowingError,
            _("A record refused at an earlier step cannot be approved."),
            "already_refused",
        )
    if refuse_ids & open_ids and not reason.strip():
        fail(BorrowingError, _("Give a reason for the refusal."), "reason_required")
    now = timezone.now()
    ApprovalDecision.objects.create(
        request=req,
        step=step_index + 1,
        decided_by=acting_user,
        decided_at=now,
        approved_lines=sorted(approve_ids),
        refused_lines=sorted(refuse_ids & open_ids),
        reason=reason[:500],
    )
    for pk in refuse_ids & open_ids:
        line = lines[pk]
        line.decision = LineDecision.REFUSED
        line.refusal_reason = reason[:500]
        line.save(update_fields=["decision", "refusal_reason"])
    before = request_snapshot(req)
    last = step_index + 1 >= len(chain) or not approve_ids
    if last:
        for pk in approve_ids:
            lines[pk].decision = LineDecision.APPROVED
            lines[pk].save(update_fields=["decision"])
        if not approve_ids:
            target = RequestState.REJECTED
        elif approve_ids == set(lines):
            target = RequestState.APPROVED
        else:
            target = RequestState.PARTLY_APPROVED
        req.transition(target)
        req.decided_at = now
    else:
        if req.state == RequestState.SUBMITTED:
            req.transition(RequestState.UNDER_REVIEW)
    req.save()
    record_event(
        "borrowing.request.decided",
        acting_user=acting_user,
        obj=req,
        before=before,
        after={
            **request_snapshot(req),
            "step": step_index + 1,
            "approved": sorted(approve_ids),
            "refused": sorted(refuse_ids & open_ids),
        },
        note=reason[:500],
    )
    if last and req.state != RequestState.REJECTED:
        grant_digital_access(req, acting_user=acting_user)
    notify_user(req.requester, "access_request.decided", request_notice(req))
    return req


def approve_access_request(
    req: AccessRequest, *, acting_user: User, reason: str = ""
) -> AccessRequest:
    """Approve every still-open line at the current step."""
    ids = list(req.lines.exclude(decision=LineDecision.REFUSED).values_list("pk", flat=True))
    return decide_access_request(req, acting_user=acting_user, approve=ids, reason=reason)


def reject_access_request(req: AccessRequest, *, acting_user: User, reason: str) -> AccessRequest:
    return decide_access_request(req, acting_user=acting_user, approve=[], reason=reason)


def grant_digital_access(req: AccessRequest, *, acting_user: User) -> int:
    """Placeholder until the repository's digitised pages exist; see ``borrowing/digital.py``."""
    return digital.grant_for_request(req, acting_user=acting_user)
