"""Classification use cases: record demand signals, reclassify, free tags, tier reports.

Each change runs in one unit of work: the signals are stored, the customer is classified,
and when its tier or system tags move the reclaim schedule is recomputed (reclaim days are
per tier), a ``TierChanged`` event is staged, and the audit entry names the rule that fired.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites
from leadtocash.app.documents import batch_size
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.classification import (
    Classification,
    Reclassification,
    RequiredFields,
    TagRules,
    TierDistribution,
    TierRules,
    classify,
    tier_distribution,
)
from leadtocash.errors import FieldError, ValidationError
from leadtocash.model import Customer, PoolId, RepId, ZoneId
from leadtocash.pool.visibility import can_see_amounts
from leadtocash.scopes import customer_target
from leadtocash.signals import DemandSignals

__all__ = ["ClassificationService"]

_SIGNAL_FIELDS = frozenset(attrs.fields_dict(DemandSignals))


def _with_signals(signals: DemandSignals, changes: dict[str, Any]) -> DemandSignals:
    unknown = sorted(set(changes) - _SIGNAL_FIELDS)
    if unknown:
        raise ValidationError(
            [
                FieldError(f"signals.{name}", "field.unknown", "not a demand signal")
                for name in unknown
            ]
        )
    try:
        return attrs.evolve(signals, **changes)
    except ValidationError as exc:
        raise ValidationError(
            [attrs.evolve(e, path=f"signals.{e.path}") for e in exc.errors]
        ) from exc


@attrs.frozen
class ClassificationService:
    """Keeps customers' tiers and system tags in step with their facts, audited."""

    ctx: AppContext
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )

    @property
    def rules(self) -> TierRules:
        """The organisation's tier rules (from the context, shared by every write path)."""
        return self.ctx.tier_rules

    @property
    def tags(self) -> TagRules:
        """The organisation's system-tag rules."""
        return self.ctx.tag_rules

    @property
    def required(self) -> RequiredFields:
        """The organisation's required fields."""
        return self.ctx.required_fields

    def restage(
        self, uow: UnitOfWork, before: Customer, candidate: Customer, *, reason: str | None = None
    ) -> tuple[Reclassification, list[Change]]:
        """Stage ``candidate`` through the customer write path, with the classification summary."""
        staged = self.customers.stage(
            uow, before, candidate, reason=reason, summarize=True, classify=True
        )
        assert staged.reclassification is not None  # classified: ``classify`` is on
        return staged.reclassification, list(staged.changes)

    # -- what callers see ---------------------------------------------------------------------
    def _shown_classification(
        self, classification: Classification, customer: Customer, principal: Principal
    ) -> Classification:
        """``classification`` of ``customer`` as ``principal`` may see it (budget hidden)."""
        if can_see_amounts(principal, customer.owner_id, self.ctx.policy):
            return classification
        return classification.without_budget()

    def _shown(self, result: Reclassification, principal: Principal) -> Reclassification:
        """``result`` as ``principal`` may see it: contact fields masked, budget hidden."""
        return Reclassification(
            self.customers.visible(result.before, principal),
            self.customers.visible(result.after, principal),
            self._shown_classification(result.classification, result.after, principal),
        )

    # -- commands -----------------------------------------------------------------------------
    def update_signals(
        self,
        principal: Principal,
        customer_id: str,
        *,
        reason: str | None = None,
        **changes: Any,
    ) -> Reclassification:
        """Record demand signals (``need_confirmed=True``, ``budget=Money(...)``, …) and
        reclassify, atomically; unknown or invalid signals are a ValidationError.
        """
        if not changes:
            raise ValidationError.single("signals", "field.required", "no signal given")

        def command(uow: UnitOfWork) -> tuple[Reclassification, list[Change]]:
            customer = uow.customers.get(customer_id)
            self.customers.owner_or_manager(uow, principal, customer)
            signals = _with_signals(customer.signals, dict(changes))
            return self.restage(
                uow, customer, attrs.evolve(customer, signals=signals), reason=reason
            )

        return self._shown(
            self.ctx.execute(principal, Action.CUSTOMER_CLASSIFY, command), principal
        )

    def reclassify(
        self, principal: Principal, customer_id: str, *, reason: str | None = None
    ) -> Reclassification:
        """Recompute a customer's tier and system tags from its current facts (e.g. after a
        rule change or as time passes); nothing is written when nothing moved.
        """

        def command(uow: UnitOfWork) -> tuple[Reclassification, list[Change]]:
            customer = uow.customers.get(customer_id)
            self.customers.owner_or_manager(uow, principal, customer)
            return self.restage(uow, customer, customer, reason=reason)

        return self._shown(
            self.ctx.execute(principal, Action.CUSTOMER_CLASSIFY, command), principal
        )

    def edit_tags(
        self,
        principal: Principal,
        customer_id: str,
        *,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        reason: str | None = None,
    ) -> Customer:
        """Add or remove free tags; system tags are refused (code ``tag.reserved``)."""
        adding, removing = tuple(add), tuple(remove)
        self.tags.edit_free(frozenset(), add=adding, remove=removing)  # validate before loading

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            customer = uow.customers.get(customer_id)
            self.customers.owner_or_manager(uow, principal, customer)
            tags = self.tags.edit_free(customer.tags, add=adding, remove=removing)
            if tags == customer.tags:
                return customer, []
            candidate = attrs.evolve(customer, tags=tags)
            staged = self.customers.stage(uow, customer, candidate, reason=reason or "tags")
            return staged.after, list(staged.changes)

        return self.customers.visible(
            self.ctx.execute(principal, Action.CUSTOMER_CLASSIFY, command), principal
        )

    # -- reads --------------------------------------------------------------------------------
    def explain(self, principal: Principal, customer_id: str) -> Classification:
        """The customer's classification now: rule, matched conditions, what to do next."""

        def query(uow: UnitOfWork) -> Classification:
            customer = uow.customers.get(customer_id)
            self.customers.owner_or_manager(uow, principal, customer)
            found = classify(
                customer,
                customer.signals,
                self.rules,
                self.ctx.clock.now(),
                timezone=self.ctx.timezone,
                requirements=self.required.entities.get("customer"),
            )
            return self._shown_classification(found, customer, principal)

        return self.ctx.read(principal, Action.CUSTOMER_READ, query)

    def distribution(
        self,
        principal: Principal,
        *,
        pool_id: PoolId | None = None,
        owner_id: RepId | None = None,
        zone_id: ZoneId | None = None,
        page: int = 500,
    ) -> TierDistribution:
        """Tier counts per tier, zone and owner over owned and pooled customers (filtered).

        Only customers inside the caller's data scope count. Customers that are neither owned
        nor in a pool are not indexed and not counted.
        """
        batch_size(page, "page")

        def scan(uow: UnitOfWork, index: str, equals: str | None) -> Iterable[Customer]:
            cursor: tuple[str, str] | None = None
            while True:
                found = uow.customers.query(index, equals=equals, after=cursor, limit=page)
                yield from found.items
                if found.next_cursor is None:
                    return
                cursor = found.next_cursor

        def query(uow: UnitOfWork) -> TierDistribution:
            sources: list[tuple[str, str | None]]
            if owner_id is not None:
                sources = [("owner", owner_id)]
            elif pool_id is not None:
                sources = [("owned_pool", pool_id), ("pool", pool_id)]
            else:
                sources = [("owner", None), ("pool", None)]
            customers = (
                c
                for index, equals in sources
                for c in scan(uow, index, equals)
                if (pool_id is None or c.pool_id == pool_id)
                and (zone_id is None or c.zone_id == zone_id)
                and self.ctx.in_scope(uow, principal, customer_target(c))
            )
            return tier_distribution(customers)

        return self.ctx.read(principal, Action.CLASSIFICATION_REPORT, query)
