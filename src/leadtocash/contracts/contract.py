"""The contract aggregate (合同): lines, payment plan, amendments, deliveries and its lifecycle.

draft → pending_approval → approved → active (signed, ``signed_at``) → completed, and
terminated (reason required) from any state before completion; ``decline`` sends a contract
under approval back to draft. Only drafts change; once signed the terms (lines, plan) are
immutable and changes are amendments (补充协议, :mod:`leadtocash.contracts.amendments`), each
approved on its own and adding a delta. A signed contract is also the order (订单): deliveries
(:mod:`leadtocash.contracts.delivery`) are recorded against its lines, and ``invoiced`` counts
the issued invoices (blue minus red), so the invoicing ceiling is this one aggregate's
invariant and concurrent invoices for a contract meet on its version.

Everything else is derived from the documents: the lines and plan in force
(:func:`effective_lines`, :func:`payment_plan`, with due dates of delivery milestones filled in
from acceptance dates), :func:`contract_total`, :func:`delivered_quantities` and
:func:`delivered_value`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from leadtocash.access import Principal
from leadtocash.contracts.approvals import Approval, ApprovalPolicy, check_approver
from leadtocash.contracts.checks import (
    check_currency,
    positive_quantity,
    rate,
    step,
    sum_money,
)
from leadtocash.contracts.ids import AmendmentId, ContractId, DeliveryId, ProductId, QuoteId
from leadtocash.contracts.plan import Milestone, MilestoneBasis, MilestoneSpec, build_plan
from leadtocash.contracts.plan import plan_problems as _plan_problems
from leadtocash.contracts.pricing import tax_of
from leadtocash.contracts.quotes import Quote, QuoteStatus
from leadtocash.errors import FieldError, RuleViolation, ValidationError
from leadtocash.model import CustomerId, Deletion, RepId
from leadtocash.money import Money
from leadtocash.pipeline.machine import Edge, StageChange, StateTable
from leadtocash.pipeline.opportunity import Opportunity, OpportunityId
from leadtocash.validators import non_blank, utc

__all__ = [
    "CONTRACT_TABLE",
    "Amendment",
    "AmendmentLine",
    "AmendmentStatus",
    "Contract",
    "ContractLine",
    "ContractStatus",
    "Delivery",
    "DeliveryLine",
    "approve_contract",
    "approved_amendments",
    "complete_contract",
    "contract_from_opportunity",
    "contract_from_quote",
    "contract_tax",
    "contract_total",
    "decline_contract",
    "delivered_quantities",
    "delivered_value",
    "edit_contract",
    "effective_lines",
    "fully_delivered_on",
    "is_fully_delivered",
    "lines_after",
    "milestone_due_date",
    "payment_plan",
    "plan_after",
    "sign_contract",
    "submit_contract",
    "terminate_contract",
]


class ContractStatus(enum.StrEnum):
    """Contract lifecycle states."""

    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    ACTIVE = "active"
    COMPLETED = "completed"
    TERMINATED = "terminated"


class AmendmentStatus(enum.StrEnum):
    """Amendment states: proposed (pending), then approved or rejected."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


_D, _P, _A, _ACT = "draft", "pending_approval", "approved", "active"
#: The one shared state table of contracts.
CONTRACT_TABLE = StateTable(
    "contract",
    [s.value for s in ContractStatus],
    [
        Edge("submit", _D, _P),
        Edge("approve", _P, _A),
        Edge("decline", _P, _D),
        Edge("sign", _A, _ACT),
        Edge("complete", _ACT, "completed"),
        *(Edge("terminate", s, "terminated") for s in (_D, _P, _A, _ACT)),
    ],
    initial=_D,
)


@attrs.frozen
class ContractLine:
    """One contracted line (= order line): quantity, amount payable (tax included) and its tax."""

    line_no: int
    description: str = attrs.field(validator=non_blank)
    quantity: Decimal = attrs.field(validator=positive_quantity)
    amount: Money
    tax: Money
    tax_rate: Decimal = attrs.field(validator=rate)
    product_id: ProductId | None = None
    unit: str | None = None


@attrs.frozen
class DeliveryLine:
    """A delivered quantity of one contract line."""

    line_no: int
    quantity: Decimal = attrs.field(validator=positive_quantity)


@attrs.frozen
class Delivery:
    """A delivery (交付) against contract lines, with its acceptance date (验收) once known."""

    id: DeliveryId
    lines: tuple[DeliveryLine, ...]
    delivered_on: date
    recorded_at: datetime = attrs.field(validator=utc)
    recorded_by: str
    accepted_on: date | None = None
    note: str | None = None


@attrs.frozen
class AmendmentLine:
    """A change to a line (quantity and amount deltas), or a new line (description, rate)."""

    line_no: int
    quantity_delta: Decimal
    amount_delta: Money
    description: str | None = None
    tax_rate: Decimal | None = None
    product_id: ProductId | None = None
    unit: str | None = None


@attrs.frozen
class Amendment:
    """A supplementary agreement (补充协议): line deltas and milestone changes, approved alone.

    ``milestones`` adjust existing milestones (same id: amounts added) or add new ones; they add
    up to the amendment's delta exactly.
    """

    id: AmendmentId
    number: int
    description: str = attrs.field(validator=non_blank)
    lines: tuple[AmendmentLine, ...]
    milestones: tuple[Milestone, ...]
    proposed_at: datetime = attrs.field(validator=utc)
    proposed_by: str
    status: AmendmentStatus = AmendmentStatus.PENDING
    approval: Approval | None = None
    reason: str | None = None

    @property
    def delta(self) -> Money:
        """How much the amendment changes the contract total (may be negative)."""
        currency = self.lines[0].amount_delta.currency
        return sum_money((line.amount_delta for line in self.lines), currency)


@attrs.frozen
class Contract:
    """A customer contract: the terms as signed, its amendments, deliveries and invoiced sum."""

    id: ContractId
    customer_id: CustomerId
    author_id: str = attrs.field(validator=non_blank)
    title: str = attrs.field(validator=non_blank)
    currency: str = attrs.field(validator=check_currency)
    lines: tuple[ContractLine, ...]
    created_at: datetime = attrs.field(validator=utc)
    owner_id: RepId | None = None
    plan: tuple[Milestone, ...] = ()
    quote_id: QuoteId | None = None
    opportunity_id: OpportunityId | None = None
    #: The last day the contract runs (its term's end; None: open-ended). Renewals are
    #: planned from it; set on the draft like the other terms.
    ends_on: date | None = None
    status: ContractStatus = ContractStatus.DRAFT
    approval: Approval | None = None
    signed_at: datetime | None = attrs.field(default=None, validator=utc)
    amendments: tuple[Amendment, ...] = ()
    deliveries: tuple[Delivery, ...] = ()
    invoiced: Money = attrs.field(
        default=attrs.Factory(lambda self: Money.zero(self.currency), takes_self=True)
    )
    reason: str | None = None
    history: tuple[StageChange, ...] = ()
    updated_at: datetime | None = attrs.field(default=None, validator=utc)
    #: Set while the (unsigned) contract is in the recycle bin (回收站).
    deleted: Deletion | None = None
    version: int = 0

    def __attrs_post_init__(self) -> None:
        problems = _line_problems(self.lines, self.currency)
        if self.plan:
            base = sum_money((line.amount for line in self.lines), self.currency)
            problems += _plan_problems(self.plan, base) if not problems else []
        if self.invoiced.currency != self.currency:
            problems.append(FieldError("invoiced", "contracts.currency_mismatch", "wrong currency"))
        if problems:
            raise ValidationError(problems)

    @property
    def total(self) -> Money:
        """The contract total in force (base lines plus approved amendments)."""
        return contract_total(self)

    @property
    def signed(self) -> bool:
        """True once the contract was signed (its terms are then immutable)."""
        return self.signed_at is not None


def _line_problems(lines: Sequence[ContractLine], currency: str) -> list[FieldError]:
    if not lines:
        return [FieldError("lines", "contract.no_lines", "a contract needs at least one line")]
    problems = []
    if len({line.line_no for line in lines}) != len(lines):
        problems.append(FieldError("lines", "contract.duplicate_line", "line numbers must differ"))
    for index, line in enumerate(lines):
        if line.amount.currency != currency or line.tax.currency != currency:
            problems.append(
                FieldError(f"lines[{index}]", "contracts.currency_mismatch", "wrong currency")
            )
        elif line.amount.amount < 0:
            problems.append(FieldError(f"lines[{index}].amount", "field.negative", "must be >= 0"))
    return problems


# -- derived figures ----------------------------------------------------------------------------


def approved_amendments(contract: Contract) -> list[Amendment]:
    """The approved amendments, in the order they were proposed."""
    return [a for a in contract.amendments if a.status is AmendmentStatus.APPROVED]


def lines_after(
    lines: Sequence[ContractLine], amendments: Sequence[Amendment]
) -> tuple[ContractLine, ...]:
    """``lines`` with the line changes of ``amendments`` applied, in order."""
    by_no = {line.line_no: line for line in lines}
    for amendment in amendments:
        for change in amendment.lines:
            old = by_no.get(change.line_no)
            if old is None:
                by_no[change.line_no] = ContractLine(
                    line_no=change.line_no,
                    description=change.description or "",
                    quantity=change.quantity_delta,
                    amount=change.amount_delta,
                    tax=tax_of(change.amount_delta, change.tax_rate or Decimal(0), inclusive=True),
                    tax_rate=change.tax_rate or Decimal(0),
                    product_id=change.product_id,
                    unit=change.unit,
                )
            else:
                by_no[change.line_no] = attrs.evolve(
                    old,
                    quantity=old.quantity + change.quantity_delta,
                    amount=old.amount + change.amount_delta,
                    tax=old.tax + tax_of(change.amount_delta, old.tax_rate, inclusive=True),
                )
    return tuple(sorted(by_no.values(), key=lambda line: line.line_no))


def effective_lines(contract: Contract) -> tuple[ContractLine, ...]:
    """The lines in force: the signed lines with every approved amendment applied."""
    return lines_after(contract.lines, approved_amendments(contract))


def contract_total(contract: Contract) -> Money:
    """The contract total in force (what the customer owes over the whole contract)."""
    base = sum_money((line.amount for line in contract.lines), contract.currency)
    return sum_money((a.delta for a in approved_amendments(contract)), contract.currency) + base


def contract_tax(contract: Contract) -> Money:
    """The VAT contained in the contract total in force."""
    return sum_money((line.tax for line in effective_lines(contract)), contract.currency)


def plan_after(plan: Sequence[Milestone], amendments: Sequence[Amendment]) -> tuple[Milestone, ...]:
    """``plan`` with the milestone changes of ``amendments`` applied (same id: amounts added)."""
    by_id = {m.id: m for m in plan}
    for amendment in amendments:
        for change in amendment.milestones:
            old = by_id.get(change.id)
            by_id[change.id] = (
                change if old is None else attrs.evolve(old, amount=old.amount + change.amount)
            )
    return tuple(by_id.values())


def delivered_quantities(contract: Contract, *, accepted_only: bool = False) -> dict[int, Decimal]:
    """Delivered quantity per line number (recorded deliveries, or only accepted ones)."""
    done: dict[int, Decimal] = {}
    for delivery in contract.deliveries:
        if accepted_only and delivery.accepted_on is None:
            continue
        for line in delivery.lines:
            done[line.line_no] = done.get(line.line_no, Decimal(0)) + line.quantity
    return done


def delivered_value(contract: Contract, *, accepted_only: bool = False) -> Money:
    """The value delivered: per line ``amount × delivered / ordered`` rounded, summed.

    A fully delivered line counts its exact amount, so a fully delivered contract's value is
    its total.
    """
    done = delivered_quantities(contract, accepted_only=accepted_only)
    values = []
    for line in effective_lines(contract):
        quantity = min(done.get(line.line_no, Decimal(0)), line.quantity)
        if quantity == line.quantity:
            values.append(line.amount)
        elif quantity > 0:
            values.append(Money(line.amount.amount * quantity / line.quantity, contract.currency))
    return sum_money(values, contract.currency)


def is_fully_delivered(contract: Contract, *, accepted_only: bool = False) -> bool:
    """True when every line in force is delivered in full."""
    done = delivered_quantities(contract, accepted_only=accepted_only)
    return all(
        done.get(line.line_no, Decimal(0)) >= line.quantity for line in effective_lines(contract)
    )


def fully_delivered_on(contract: Contract) -> date | None:
    """The acceptance date on which the accepted deliveries first covered every line in force."""
    ordered = {line.line_no: line.quantity for line in effective_lines(contract)}
    accepted = sorted(
        (d for d in contract.deliveries if d.accepted_on is not None),
        key=lambda d: (d.accepted_on, d.id),
    )
    done: dict[int, Decimal] = {}
    for delivery in accepted:
        for line in delivery.lines:
            done[line.line_no] = done.get(line.line_no, Decimal(0)) + line.quantity
        if all(done.get(no, Decimal(0)) >= qty for no, qty in ordered.items()):
            return delivery.accepted_on
    return None


def milestone_due_date(contract: Contract, milestone: Milestone) -> date | None:
    """When ``milestone`` falls due: its date, or N days after the delivery acceptance it awaits.

    ``None`` while the delivery it waits for is not accepted yet.
    """
    if milestone.basis is MilestoneBasis.DATE:
        return milestone.due_date
    if milestone.basis is MilestoneBasis.FIRST_DELIVERY:
        dates = [d.accepted_on for d in contract.deliveries if d.accepted_on is not None]
        anchor = min(dates) if dates else None
    else:
        anchor = fully_delivered_on(contract)
    return None if anchor is None else anchor + timedelta(days=milestone.days_after_delivery)


def payment_plan(contract: Contract) -> tuple[Milestone, ...]:
    """The plan in force, with every due date known so far filled in (sums to the total)."""
    plan = plan_after(contract.plan, approved_amendments(contract))
    return tuple(attrs.evolve(m, due_date=milestone_due_date(contract, m)) for m in plan)


# -- creation, editing and lifecycle ----------------------------------------------------------


def _created(now: datetime, actor: str) -> tuple[StageChange, ...]:
    return (StageChange(None, ContractStatus.DRAFT.value, "create", now, actor),)


def contract_from_quote(
    quote: Quote,
    contract_id: ContractId,
    now: datetime,
    actor: str,
    *,
    title: str | None = None,
    plan: Sequence[MilestoneSpec] = (),
    ends_on: date | None = None,
) -> Contract:
    """A draft contract prefilled from an accepted quote: its lines at their quoted totals.

    A quote that is not accepted is ``contract.quote_not_accepted``.
    """
    if quote.status is not QuoteStatus.ACCEPTED:
        raise RuleViolation(
            f"quote {quote.id} is {quote.status.value}, not accepted",
            code="contract.quote_not_accepted",
            details={"quote_id": quote.id, "status": quote.status.value},
        )
    price = quote.price
    lines = tuple(
        ContractLine(
            line_no=n,
            description=line.description,
            quantity=line.quantity,
            amount=priced.total,
            tax=priced.tax,
            tax_rate=line.tax_rate,
            product_id=line.product_id,
            unit=line.unit,
        )
        for n, (line, priced) in enumerate(zip(quote.lines, price.lines, strict=True), 1)
    )
    return Contract(
        id=contract_id,
        customer_id=quote.customer_id,
        author_id=actor,
        title=title or f"Quote {quote.id} r{quote.revision}",
        currency=quote.currency,
        lines=lines,
        created_at=now,
        owner_id=quote.owner_id,
        plan=build_plan(price.total, plan) if plan else (),
        quote_id=quote.id,
        opportunity_id=quote.opportunity_id,
        ends_on=ends_on,
        history=_created(now, actor),
    )


def contract_from_opportunity(
    opportunity: Opportunity,
    contract_id: ContractId,
    now: datetime,
    actor: str,
    *,
    won_stage: str = "won",
    tax_rate: Decimal = Decimal("0.13"),
    plan: Sequence[MilestoneSpec] = (),
    ends_on: date | None = None,
) -> Contract:
    """A draft contract from a won opportunity: its amount as one tax-inclusive line.

    An opportunity not in ``won_stage`` (the flow's won stage) is ``contract.opportunity_not_won``.
    """
    if opportunity.stage != won_stage:
        raise RuleViolation(
            f"opportunity {opportunity.id} is in {opportunity.stage!r}, not won",
            code="contract.opportunity_not_won",
            details={"opportunity_id": opportunity.id, "stage": opportunity.stage},
        )
    amount = opportunity.amount
    line = ContractLine(
        line_no=1,
        description=opportunity.name,
        quantity=Decimal(1),
        amount=amount,
        tax=tax_of(amount, tax_rate, inclusive=True),
        tax_rate=tax_rate,
    )
    return Contract(
        id=contract_id,
        customer_id=opportunity.customer_id,
        author_id=actor,
        title=opportunity.name,
        currency=amount.currency,
        lines=(line,),
        created_at=now,
        owner_id=opportunity.owner_id,
        plan=build_plan(amount, plan) if plan else (),
        opportunity_id=opportunity.id,
        ends_on=ends_on,
        history=_created(now, actor),
    )


def _editable(contract: Contract) -> None:
    if contract.status is ContractStatus.DRAFT:
        return
    if contract.signed:
        raise RuleViolation(
            f"contract {contract.id} is signed; change it with an amendment",
            code="contract.signed_immutable",
            details={"id": contract.id, "status": contract.status.value},
        )
    raise RuleViolation(
        f"contract {contract.id} is {contract.status.value}; only drafts change",
        code="contract.not_editable",
        details={"id": contract.id, "status": contract.status.value},
    )


def edit_contract(
    contract: Contract,
    now: datetime,
    *,
    title: str | None = None,
    lines: Sequence[ContractLine] | None = None,
    plan: Sequence[MilestoneSpec] | None = None,
    ends_on: date | None = None,
) -> Contract:
    """A draft contract with a new title, lines, plan or end date (the plan is rebuilt for
    the lines; ``ends_on`` None keeps the end date).

    A signed contract is ``contract.signed_immutable``; one under approval
    ``contract.not_editable``.
    """
    _editable(contract)
    changes: dict[str, Any] = {"updated_at": now}
    if title is not None:
        changes["title"] = title
    if ends_on is not None:
        changes["ends_on"] = ends_on
    if lines is not None:
        changes["lines"] = tuple(lines)
        problems = _line_problems(changes["lines"], contract.currency)
        if problems:
            raise ValidationError(problems)
    if plan is not None or lines is not None:
        new_lines = changes.get("lines", contract.lines)
        total = sum_money((line.amount for line in new_lines), contract.currency)
        if plan is not None:
            changes["plan"] = build_plan(total, plan) if plan else ()
        elif contract.plan and _plan_problems(contract.plan, total):
            changes["plan"] = ()  # the old plan no longer fits: set a new one before submitting
    return attrs.evolve(contract, **changes)


def submit_contract(contract: Contract, now: datetime, actor: str) -> Contract:
    """Ask for approval: draft → pending_approval (a payment plan is required)."""
    CONTRACT_TABLE.target(contract.status.value, "submit")
    if not contract.plan:
        raise RuleViolation(
            f"contract {contract.id} has no payment plan",
            code="contract.plan_missing",
            details={"id": contract.id},
        )
    return step(CONTRACT_TABLE, contract, "submit", now, actor)


def approve_contract(
    contract: Contract, policy: ApprovalPolicy, approver: Principal, reason: str, now: datetime
) -> Contract:
    """Approve: pending_approval → approved; never by its author (``contract.self_approval``)."""
    CONTRACT_TABLE.target(contract.status.value, "approve")
    check_approver(
        approver,
        policy.approver_roles,
        contract.author_id,
        self_code="contract.self_approval",
        document="contract",
        document_id=contract.id,
    )
    approval = Approval(approver.user_id, now, reason)
    return step(
        CONTRACT_TABLE, contract, "approve", now, approver.user_id, reason, approval=approval
    )


def decline_contract(
    contract: Contract, policy: ApprovalPolicy, approver: Principal, reason: str, now: datetime
) -> Contract:
    """Send back for changes: pending_approval → draft, with the reason."""
    CONTRACT_TABLE.target(contract.status.value, "decline")
    check_approver(
        approver,
        policy.approver_roles,
        contract.author_id,
        self_code="contract.self_approval",
        document="contract",
        document_id=contract.id,
    )
    Approval(approver.user_id, now, reason)  # the reason is required
    return step(CONTRACT_TABLE, contract, "decline", now, approver.user_id, reason, reason=reason)


def sign_contract(contract: Contract, signed_at: datetime, now: datetime, actor: str) -> Contract:
    """Record the signature: approved → active; from now on the terms are immutable."""
    if signed_at.tzinfo is None or signed_at.utcoffset():
        raise ValidationError.single("signed_at", "time.not_utc", "signed_at must be UTC")
    return step(CONTRACT_TABLE, contract, "sign", now, actor, signed_at=signed_at)


def complete_contract(contract: Contract, now: datetime, actor: str) -> Contract:
    """Close a fulfilled contract: active → completed.

    Fulfilled: every line in force (amendments included) delivered in full; otherwise
    ``contract.not_fulfilled``, naming the lines still short (end it early with
    :func:`terminate_contract` instead).
    """
    if contract.status is ContractStatus.ACTIVE:
        done = delivered_quantities(contract)
        short = [
            line.line_no
            for line in effective_lines(contract)
            if done.get(line.line_no, Decimal(0)) < line.quantity
        ]
        if short:
            raise RuleViolation(
                f"contract {contract.id} is not fully delivered (lines {short} are short)",
                code="contract.not_fulfilled",
                details={"id": contract.id, "lines": short},
            )
    return step(CONTRACT_TABLE, contract, "complete", now, actor)


def terminate_contract(contract: Contract, reason: str, now: datetime, actor: str) -> Contract:
    """End a contract early (终止), with the reason; nothing is deleted."""
    if not reason.strip():
        raise ValidationError.single("reason", "field.required", "a reason is required")
    return step(CONTRACT_TABLE, contract, "terminate", now, actor, reason, reason=reason)
