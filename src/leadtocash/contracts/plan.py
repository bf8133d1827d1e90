"""Payment plans (回款计划): milestones due on a date or after delivery, summing exactly.

A milestone is given as a percentage or an amount. Fixed amounts are taken first; the rest of
the total is split over the percentage milestones with :meth:`Money.split` (largest
remainder), so the milestones add up to the total to the minor unit. Percentages must add up
to 100 (when there are any), and fixed amounts alone must add up to the total.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import attrs

from leadtocash.contracts.checks import currency_mismatch, sum_money
from leadtocash.errors import FieldError, RuleViolation, ValidationError
from leadtocash.money import Money
from leadtocash.validators import day_count, non_blank

__all__ = ["Milestone", "MilestoneBasis", "MilestoneSpec", "build_plan", "plan_problems"]

_HUNDRED = Decimal(100)


class MilestoneBasis(enum.StrEnum):
    """When a milestone falls due: on a fixed date, or N days after a delivery is accepted."""

    DATE = "date"
    FIRST_DELIVERY = "first_delivery"
    FULL_DELIVERY = "full_delivery"


def _check_due(inst: Milestone | MilestoneSpec) -> None:
    if inst.basis is MilestoneBasis.DATE and inst.due_date is None:
        raise ValidationError.single("due_date", "field.required", "a dated milestone needs a date")
    if isinstance(inst, MilestoneSpec) and inst.basis is not MilestoneBasis.DATE and inst.due_date:
        raise ValidationError.single(
            "due_date", "contract.milestone_due", "a delivery milestone gets its date on acceptance"
        )


@attrs.frozen
class Milestone:
    """One instalment: its amount and when it falls due (date, or days after delivery).

    A delivery milestone's ``due_date`` is None in the stored plan and filled in by
    :func:`leadtocash.contracts.contract.payment_plan` once the delivery is accepted.
    """

    id: str = attrs.field(validator=non_blank)
    name: str = attrs.field(validator=non_blank)
    amount: Money
    basis: MilestoneBasis = MilestoneBasis.DATE
    due_date: date | None = None
    days_after_delivery: int = attrs.field(default=0, validator=day_count)
    percent: Decimal | None = None

    def __attrs_post_init__(self) -> None:
        _check_due(self)


@attrs.frozen
class MilestoneSpec:
    """A requested milestone: exactly one of ``percent`` (of the rest) or ``amount``."""

    name: str = attrs.field(validator=non_blank)
    percent: Decimal | None = None
    amount: Money | None = None
    basis: MilestoneBasis = MilestoneBasis.DATE
    due_date: date | None = None
    days_after_delivery: int = attrs.field(default=0, validator=day_count)
    id: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.percent is None) == (self.amount is None):
            raise ValidationError.single(
                "percent", "contract.milestone_amount", "give a percentage or an amount"
            )
        if self.percent is not None and not (
            isinstance(self.percent, Decimal) and Decimal(0) <= self.percent <= _HUNDRED
        ):
            raise ValidationError.single(
                "percent", "contracts.rate_range", "a percentage is a Decimal from 0 to 100"
            )
        if self.amount is not None and self.amount.amount < 0:
            raise ValidationError.single("amount", "field.negative", "must be >= 0")
        _check_due(self)


def build_plan(total: Money, specs: Sequence[MilestoneSpec]) -> tuple[Milestone, ...]:
    """Milestones for ``total`` from ``specs``, adding up to it exactly (see module doc).

    Refused with ``contract.plan_mismatch`` when percentages do not add up to 100 or fixed
    amounts do not fit the total; ids default to ``M1``, ``M2`` … in order.
    """
    if not specs:
        raise ValidationError.single("plan", "contract.plan_mismatch", "a plan needs milestones")
    ids = [spec.id or f"M{n}" for n, spec in enumerate(specs, 1)]
    if len(set(ids)) != len(ids):
        raise ValidationError.single("plan", "contract.duplicate_milestone", "ids must differ")
    fixed = []
    for index, spec in enumerate(specs):
        if spec.amount is not None:
            if spec.amount.currency != total.currency:
                raise currency_mismatch(
                    f"plan[{index}].amount", total.currency, spec.amount.currency
                )
            fixed.append(spec.amount)
    rest = total - sum_money(fixed, total.currency)
    percents = [spec.percent for spec in specs if spec.percent is not None]
    if (
        rest.amount < 0
        or (percents and sum(percents) != _HUNDRED)
        or (not percents and rest.amount)
    ):
        raise RuleViolation(
            f"the milestones do not make up {total}",
            code="contract.plan_mismatch",
            details={
                "total": str(total),
                "fixed": str(sum_money(fixed, total.currency)),
                "percent": str(sum(percents)),
            },
        )
    shares = iter(rest.split(percents) if percents else ())  # one per percentage milestone
    plan = []
    for index, spec in enumerate(specs):  # ids has one entry per spec
        ident = ids[index]
        amount = spec.amount if spec.amount is not None else next(shares)
        plan.append(
            Milestone(
                id=ident,
                name=spec.name,
                amount=amount,
                basis=spec.basis,
                due_date=spec.due_date,
                days_after_delivery=spec.days_after_delivery,
                percent=spec.percent,
            )
        )
    return tuple(plan)


def plan_problems(plan: Sequence[Milestone], total: Money) -> list[FieldError]:
    """Why ``plan`` is not a valid plan of ``total`` (empty list when it is)."""
    problems = []
    if len({m.id for m in plan}) != len(plan):
        problems.append(FieldError("plan", "contract.duplicate_milestone", "ids must differ"))
    if any(m.amount.currency != total.currency for m in plan):
        problems.append(FieldError("plan", "contracts.currency_mismatch", "wrong currency"))
    elif sum(m.amount.minor_units for m in plan) != total.minor_units:
        problems.append(FieldError("plan", "contract.plan_mismatch", f"must add up to {total}"))
    if any(m.amount.amount < 0 for m in plan):
        problems.append(FieldError("plan", "field.negative", "amounts must be >= 0"))
    return problems
