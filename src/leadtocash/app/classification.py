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
from leadtocash.app.pool import PoolService
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.classification import (
    Classification,
    Reclassification,
    RequiredFields,
    TagRules,
    TierChanged,
    TierDistribution,
    TierRules,
    apply_classification,
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
    pools: PoolService
    rules: TierRules = attrs.field(factory=TierRules)
    tags: TagRules = attrs.field(factory=TagRules)
    required: RequiredFields = attrs.field(factory=RequiredFields)

    # -- the shared step ----------------------------------------------------------------------
    def restage(
        self, uow: UnitOfWork, before: Customer, candidate: Customer, *, reason: str | None = None
    ) -> tuple[Reclassification, list[Change]]:
        """Classify ``candidate`` (``before`` with new facts) and stage the result in ``uow``.

        Other use cases that change a customer's facts call this inside their own unit of work,
        so the reclassification commits (or fails) with the fact that caused it. The caller
        stages the consequences of its own change (rep books for owner/won/locked); this step
        stages those of the new tier and tags: schedule, books, event, audit change.
        """
        now = self.ctx.clock.now()
        result = apply_classification(
            candidate,
            self.rules,
            self.tags,
            now,
            timezone=self.ctx.timezone,
            requirements=self.required.entities.get("customer"),
        )
        after = result.after
        moved = after.tier is not before.tier or after.tags != before.tags
        if moved:
            after = self.pools.scheduled(uow, after)
        outcome = Reclassification(before, after, result.classification)
        if after == before:
            return outcome, []
        after = attrs.evolve(after, updated_at=now)
        outcome = Reclassification(before, after, result.classification)
        uow.customers.save(after)
        if moved:
            self.pools.rebook(uow, candidate, after)
            uow.record(
                TierChanged(
                    now,
                    after.id,
                    before.tier,
                    after.tier,
                    result.classification.rule.name,
                    after.owner_id,
                    tuple(sorted(outcome.tags_added)),
                    tuple(sorted(outcome.tags_removed)),
                )
            )
        what = "signals" if candidate.signals != before.signals else "facts"
        summary = outcome.summary() if moved else f"{what} updated; {outcome.summary()}"
        why = f"{reason}: {summary}" if reason else summary
        return outcome, [Change("customer", after.id, before, after, why)]

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
            self.pools.visible(result.before, principal),
            self.pools.visible(result.after, principal),
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
            self.pools.owner_or_manager(uow, principal, customer)
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
            self.pools.owner_or_manager(uow, principal, customer)
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
            self.pools.owner_or_manager(uow, principal, customer)
            tags = self.tags.edit_free(customer.tags, add=adding, remove=removing)
            if tags == customer.tags:
                return customer, []
            after = attrs.evolve(customer, tags=tags, updated_at=self.ctx.clock.now())
            uow.customers.save(after)
            return after, [Change("customer", customer.id, customer, after, reason or "tags")]

        return self.pools.visible(
            self.ctx.execute(principal, Action.CUSTOMER_CLASSIFY, command), principal
        )

    # -- reads --------------------------------------------------------------------------------
    def explain(self, principal: Principal, customer_id: str) -> Classification:
        """The customer's classification now: rule, matched conditions, what to do next."""

        def query(uow: UnitOfWork) -> Classification:
            customer = uow.customers.get(customer_id)
            self.pools.owner_or_manager(uow, principal, customer)
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
