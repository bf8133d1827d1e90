"""Amendments (补充协议): the only way to change a signed contract, each approved on its own.

An amendment changes lines (quantity and amount deltas, or new lines) and the plan
(milestones with an existing id adjust it, new ids add one); its milestones add up to its
delta exactly, so the plan in force always sums to the contract total in force. Approval
refuses a result that would leave a line below what was delivered
(``contract.amendment_below_delivered``), negative amounts, or a total below what was already
invoiced (``contract.below_invoiced``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import attrs

from leadtocash.access import Principal
from leadtocash.contracts.approvals import Approval, ApprovalPolicy, check_approver
from leadtocash.contracts.checks import currency_mismatch, sum_money
from leadtocash.contracts.contract import (
    Amendment,
    AmendmentLine,
    AmendmentStatus,
    Contract,
    approved_amendments,
    contract_total,
    delivered_quantities,
    effective_lines,
    lines_after,
    plan_after,
)
from leadtocash.contracts.delivery import require_active
from leadtocash.contracts.ids import AmendmentId
from leadtocash.contracts.plan import Milestone
from leadtocash.errors import InvalidTransition, RuleViolation, ValidationError

__all__ = ["approve_amendment", "propose_amendment", "reject_amendment"]


def _check_result(contract: Contract, amendment: Amendment) -> None:
    """Refuse an amendment whose result breaks the contract's invariants."""
    after = [*approved_amendments(contract), amendment]
    lines = lines_after(contract.lines, after)
    done = delivered_quantities(contract)
    for line in lines:
        delivered = done.get(line.line_no, Decimal(0))
        if line.quantity < delivered or line.quantity < 0:
            raise RuleViolation(
                f"line {line.line_no} would order {line.quantity}, {delivered} already delivered",
                code="contract.amendment_below_delivered",
                details={
                    "line": line.line_no,
                    "ordered": str(line.quantity),
                    "delivered": str(delivered),
                },
            )
        if line.amount.amount < 0:
            raise RuleViolation(
                f"line {line.line_no} would be negative",
                code="contract.plan_mismatch",
                details={"line": line.line_no, "amount": str(line.amount)},
            )
    plan = plan_after(contract.plan, after)
    negative = [m.id for m in plan if m.amount.amount < 0]
    if negative:
        raise RuleViolation(
            f"milestones {negative} would be negative",
            code="contract.plan_mismatch",
            details={"milestones": negative},
        )
    total = contract_total(contract) + amendment.delta
    if total < contract.invoiced:
        raise RuleViolation(
            f"the total would be {total}, below the {contract.invoiced} already invoiced",
            code="contract.below_invoiced",
            details={"total": str(total), "invoiced": str(contract.invoiced)},
        )


def propose_amendment(
    contract: Contract,
    amendment_id: AmendmentId,
    description: str,
    lines: Sequence[AmendmentLine],
    milestones: Sequence[Milestone],
    now: datetime,
    actor: str,
) -> Contract:
    """The active contract with a pending amendment appended (numbered 1, 2, …).

    New lines (unknown line numbers) need a description, a tax rate and a positive quantity;
    the milestones must add up to the delta (``contract.plan_mismatch``).
    """
    require_active(contract, "amend")
    if not lines:
        raise ValidationError.single("lines", "field.required", "an amendment changes a line")
    if any(a.id == amendment_id for a in contract.amendments):
        raise ValidationError.single("amendment_id", "contract.duplicate_amendment", "id is taken")
    known = {line.line_no for line in effective_lines(contract)}
    for index, line in enumerate(lines):
        for money in (line.amount_delta, *(m.amount for m in milestones)):
            if money.currency != contract.currency:
                raise currency_mismatch(f"lines[{index}]", contract.currency, money.currency)
        if line.line_no not in known and (
            not line.description or line.tax_rate is None or line.quantity_delta <= 0
        ):
            raise ValidationError.single(
                f"lines[{index}]", "field.required", "a new line needs a description and rate"
            )
    delta = sum_money((line.amount_delta for line in lines), contract.currency)
    planned = sum_money((m.amount for m in milestones), contract.currency)
    if planned != delta:
        raise RuleViolation(
            f"the milestones change the plan by {planned}, the lines by {delta}",
            code="contract.plan_mismatch",
            details={"delta": str(delta), "planned": str(planned)},
        )
    amendment = Amendment(
        id=amendment_id,
        number=len(contract.amendments) + 1,
        description=description,
        lines=tuple(lines),
        milestones=tuple(milestones),
        proposed_at=now,
        proposed_by=actor,
    )
    _check_result(contract, amendment)
    return attrs.evolve(contract, amendments=(*contract.amendments, amendment), updated_at=now)


def _pending(contract: Contract, amendment_id: AmendmentId, trigger: str) -> int:
    for index, amendment in enumerate(contract.amendments):
        if amendment.id == amendment_id:
            if amendment.status is not AmendmentStatus.PENDING:
                raise InvalidTransition("amendment", amendment.status.value, trigger, ())
            return index
    raise RuleViolation(
        f"contract {contract.id} has no amendment {amendment_id!r}",
        code="contract.unknown_amendment",
        details={"id": contract.id, "amendment_id": amendment_id},
    )


def _decide(
    contract: Contract,
    amendment_id: AmendmentId,
    policy: ApprovalPolicy,
    approver: Principal,
    reason: str,
    now: datetime,
    status: AmendmentStatus,
) -> Contract:
    trigger = "approve" if status is AmendmentStatus.APPROVED else "reject"
    require_active(contract, f"{trigger} an amendment")
    index = _pending(contract, amendment_id, trigger)
    amendment = contract.amendments[index]
    check_approver(
        approver,
        policy.approver_roles,
        amendment.proposed_by,
        self_code="contract.self_approval",
        document="amendment",
        document_id=amendment.id,
    )
    approval = Approval(approver.user_id, now, reason)
    if status is AmendmentStatus.APPROVED:
        _check_result(contract, amendment)
    decided = attrs.evolve(amendment, status=status, approval=approval, reason=reason)
    amendments = list(contract.amendments)
    amendments[index] = decided
    return attrs.evolve(contract, amendments=tuple(amendments), updated_at=now)


def approve_amendment(
    contract: Contract,
    amendment_id: AmendmentId,
    policy: ApprovalPolicy,
    approver: Principal,
    reason: str,
    now: datetime,
) -> Contract:
    """Approve a pending amendment: its deltas take effect (checked against deliveries)."""
    return _decide(contract, amendment_id, policy, approver, reason, now, AmendmentStatus.APPROVED)


def reject_amendment(
    contract: Contract,
    amendment_id: AmendmentId,
    policy: ApprovalPolicy,
    approver: Principal,
    reason: str,
    now: datetime,
) -> Contract:
    """Reject a pending amendment (kept, with the reason; it never takes effect)."""
    return _decide(contract, amendment_id, policy, approver, reason, now, AmendmentStatus.REJECTED)
