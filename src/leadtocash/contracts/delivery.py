"""Orders and deliveries (订单/交付): partial deliveries per line, never more than ordered.

A signed (active) contract is the order; its lines in force are the ordered quantities.
Recording a delivery and accepting it (验收) return a new contract; milestones due "on
delivery" get their due date from the acceptance date (see
:func:`leadtocash.contracts.contract.payment_plan`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

import attrs

from leadtocash.contracts.contract import (
    Contract,
    ContractStatus,
    Delivery,
    DeliveryLine,
    delivered_quantities,
    effective_lines,
)
from leadtocash.contracts.ids import DeliveryId
from leadtocash.errors import RuleViolation, ValidationError

__all__ = ["accept_delivery", "record_delivery", "require_active"]


def require_active(contract: Contract, what: str) -> None:
    """Refuse ``what`` unless the contract is active (signed, running): ``contract.not_active``."""
    if contract.status is not ContractStatus.ACTIVE:
        raise RuleViolation(
            f"contract {contract.id} is {contract.status.value}; cannot {what}",
            code="contract.not_active",
            details={"id": contract.id, "status": contract.status.value, "action": what},
        )


def record_delivery(
    contract: Contract,
    delivery_id: DeliveryId,
    quantities: Mapping[int, Decimal],
    delivered_on: date,
    now: datetime,
    actor: str,
    *,
    note: str | None = None,
) -> Contract:
    """The contract with a delivery of ``quantities`` (line number → quantity) recorded.

    Refused: a contract that is not active (``contract.not_active``), an unknown line
    (``contract.unknown_line``), more than ordered on any line (``contract.over_delivery``,
    with ordered, delivered and requested quantities), a reused delivery id.
    """
    require_active(contract, "deliver")
    if not quantities:
        raise ValidationError.single("quantities", "field.required", "deliver at least one line")
    if any(d.id == delivery_id for d in contract.deliveries):
        raise ValidationError.single("delivery_id", "contract.duplicate_delivery", "id is taken")
    lines = tuple(DeliveryLine(no, qty) for no, qty in sorted(quantities.items()))
    ordered = {line.line_no: line.quantity for line in effective_lines(contract)}
    done = delivered_quantities(contract)
    for line in lines:
        if line.line_no not in ordered:
            raise RuleViolation(
                f"contract {contract.id} has no line {line.line_no}",
                code="contract.unknown_line",
                details={"id": contract.id, "line": line.line_no},
            )
        already = done.get(line.line_no, Decimal(0))
        if already + line.quantity > ordered[line.line_no]:
            raise RuleViolation(
                f"line {line.line_no}: {already} of {ordered[line.line_no]} delivered, "
                f"{line.quantity} more would exceed the order",
                code="contract.over_delivery",
                details={
                    "id": contract.id,
                    "line": line.line_no,
                    "ordered": str(ordered[line.line_no]),
                    "delivered": str(already),
                    "requested": str(line.quantity),
                },
            )
    delivery = Delivery(delivery_id, lines, delivered_on, now, actor, note=note)
    return attrs.evolve(contract, deliveries=(*contract.deliveries, delivery), updated_at=now)


def accept_delivery(
    contract: Contract, delivery_id: DeliveryId, accepted_on: date, now: datetime, actor: str
) -> Contract:
    """The contract with delivery ``delivery_id`` accepted on ``accepted_on`` (验收).

    Refused: an unknown delivery (``contract.unknown_delivery``), one already accepted
    (``contract.delivery_accepted``), an acceptance before the delivery date.
    """
    require_active(contract, "accept a delivery")
    found = [i for i, d in enumerate(contract.deliveries) if d.id == delivery_id]
    if not found:
        raise RuleViolation(
            f"contract {contract.id} has no delivery {delivery_id!r}",
            code="contract.unknown_delivery",
            details={"id": contract.id, "delivery_id": delivery_id},
        )
    index = found[0]
    delivery = contract.deliveries[index]
    if delivery.accepted_on is not None:
        raise RuleViolation(
            f"delivery {delivery_id} was accepted on {delivery.accepted_on.isoformat()}",
            code="contract.delivery_accepted",
            details={"delivery_id": delivery_id, "accepted_on": delivery.accepted_on.isoformat()},
        )
    if accepted_on < delivery.delivered_on:
        raise ValidationError.single(
            "accepted_on", "contract.accepted_before_delivery", "acceptance precedes delivery"
        )
    deliveries = list(contract.deliveries)
    deliveries[index] = attrs.evolve(delivery, accepted_on=accepted_on)
    return attrs.evolve(contract, deliveries=tuple(deliveries), updated_at=now)
