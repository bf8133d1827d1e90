"""Renewals (续约) through the facade: a contract nearing its end opens one renewal opportunity.

``crm.renewals.sweep`` reads the contracts' ``renews_on`` index (active or completed contracts
with an end date, by that date) over the window from one lead time ago to one lead time ahead
— only contracts near their end, however many exist — and, for each without a renewal marker,
saves in one commit the :class:`~leadtocash.aftersales.Renewal` marker (its id derived from the
contract's, so a second insert collides), the renewal opportunity in the pipeline's first
stage for the contract's owner, the customer's pipeline facts (through the customer write
path) and an ``opportunity.created`` event. Running it twice creates nothing twice; a
contract that ended more than one lead time ago is no longer "nearing its end".
"""

from __future__ import annotations

from datetime import timedelta

import attrs

from leadtocash.access import Action, Principal
from leadtocash.aftersales import Renewal, plan_renewals, renewal_candidate, renewal_id
from leadtocash.aftersales import renewal_opportunity as make_opportunity
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites
from leadtocash.app.documents import batch_size, guard_document, page_limit
from leadtocash.app.service import ServicePolicies
from leadtocash.app.unit_of_work import Page, UnitOfWork
from leadtocash.contracts import Contract, ContractId
from leadtocash.durations import deadline, earlier, local_day
from leadtocash.errors import ConcurrencyConflict, DuplicateKey
from leadtocash.pipeline import operations as ops
from leadtocash.pipeline.events import OpportunityCreated
from leadtocash.pipeline.flows import DEFAULT_FLOW, StageFlow
from leadtocash.pipeline.opportunity import Opportunity

__all__ = ["RenewalReport", "RenewalService"]


@attrs.frozen
class RenewalReport:
    """What one renewal sweep did: contracts renewed (contract id, opportunity id), due
    contracts that cannot renew (contract id, why: ``no_owner``), conflicts skipped."""

    created: tuple[tuple[str, str], ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class RenewalService:
    """Renewal opportunities for contracts nearing their end, created once each."""

    ctx: AppContext
    flow: StageFlow = DEFAULT_FLOW
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )

    @property
    def policies(self) -> ServicePolicies:
        """The organisation's policies in force (``crm.settings``: stored, audited)."""
        return self.ctx.settings.service

    def _window(self) -> tuple[str, str]:
        """``(at_least, below)`` of ``renews_on``: one lead time either side of today."""
        now, tz, cal = self.ctx.clock.now(), self.ctx.timezone, self.ctx.calendar
        lead = self.policies.renewals.lead_time
        first = local_day(earlier(now, lead, timezone=tz, calendar=cal), tz)
        last = local_day(deadline(now, lead, timezone=tz, calendar=cal), tz)
        return first.isoformat(), (last + timedelta(days=2)).isoformat()

    def sweep(self, principal: Principal, *, batch: int = 500) -> RenewalReport:
        """Open the renewal of every contract whose lead time began (``service.sweep``)."""
        batch_size(batch, "batch")
        self.ctx.policy.check(principal, Action.SERVICE_SWEEP)
        at_least, below = self._window()
        candidates: list[str] = []
        cursor: tuple[str, str] | None = None
        with self.ctx.unit_of_work() as uow:
            contracts = uow.repository(Contract)
            while True:
                hits = contracts.index_entries(
                    "renews_on", at_least=at_least, below=below, after=cursor, limit=batch
                )
                done = {r.contract_id for r in uow.repository(Renewal).get_many(
                    [renewal_id(ContractId(ident)) for _, ident in hits])}  # fmt: skip
                candidates += [ident for _, ident in hits if ident not in done]
                if len(hits) < batch:
                    break
                cursor = hits[-1]
        created: list[tuple[str, str]] = []
        skipped: list[tuple[str, str]] = []
        for contract_id in candidates:
            try:
                outcome = self._renew_one(principal, contract_id)
            except (ConcurrencyConflict, DuplicateKey):
                outcome = ("skip", "conflict")
            if outcome is None:
                continue
            (created if outcome[0] == "created" else skipped).append((contract_id, outcome[1]))
        return RenewalReport(tuple(created), tuple(skipped))

    def _renew_one(self, principal: Principal, contract_id: str) -> tuple[str, str] | None:
        def command(uow: UnitOfWork) -> tuple[tuple[str, str] | None, list[Change]]:
            contract = uow.repository(Contract).get(contract_id)
            markers = uow.repository(Renewal)
            if contract.ends_on is None or markers.find(renewal_id(contract.id)) is not None:
                return None, []
            now = self.ctx.clock.now()
            plan = plan_renewals(
                [renewal_candidate(contract, contract.ends_on)], done=(), now=now,
                policy=self.policies.renewals, timezone=self.ctx.timezone,
                calendar=self.ctx.calendar,
            )  # fmt: skip
            if plan.skipped:
                return ("skip", plan.skipped[0][1]), []
            if not plan.drafts:
                return None, []
            (draft,) = plan.drafts
            company = self.customers.company(uow, draft.renewal.customer_id)[-1]
            if company.id != draft.renewal.customer_id:  # merged away: the deal is the company's
                marker = attrs.evolve(draft.renewal, customer_id=company.id)
                draft = attrs.evolve(draft, renewal=marker)
            opportunity = make_opportunity(draft, at=now, actor=principal.user_id, flow=self.flow)
            markers.add(draft.renewal)
            uow.repository(Opportunity).add(opportunity)
            uow.record(
                OpportunityCreated(
                    now, opportunity.id, opportunity.customer_id, opportunity.owner_id,
                    opportunity.stage, opportunity.amount, opportunity.close_date,
                )
            )  # fmt: skip
            why = f"renewal of contract {contract.id} (ends {contract.ends_on.isoformat()})"
            changes = [
                Change("renewal", draft.renewal.id, None, draft.renewal, why),
                Change("opportunity", opportunity.id, None, opportunity, why),
            ]
            return ("created", opportunity.id), changes + self._customer(uow, opportunity, why)

        return self.ctx.execute(principal, Action.SERVICE_SWEEP, command)

    def _customer(self, uow: UnitOfWork, opportunity: Opportunity, why: str) -> list[Change]:
        """The customer's pipeline facts after a new opportunity, through the write path."""
        customer = uow.customers.get(opportunity.customer_id)
        found: list[Opportunity] = []
        cursor: tuple[str, str] | None = None
        repo = uow.repository(Opportunity)
        while True:
            page = repo.query("customer", equals=customer.id, after=cursor, limit=500)
            found.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        current = {o.id: o for o in found}
        current[opportunity.id] = opportunity
        rank = ops.open_stage_rank(current.values(), lambda _name: self.flow)
        candidate = attrs.evolve(
            customer, open_opportunity_stage=rank, last_opportunity_at=self.ctx.clock.now()
        )
        return list(
            self.customers.stage(uow, customer, candidate, reason=why, archive=True).changes
        )

    # -- reads ------------------------------------------------------------------------------
    def for_customer(
        self,
        principal: Principal,
        customer_id: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Page[Renewal]:
        """One page of a customer's renewals by the end date of their contract."""
        size = page_limit(limit)

        def query(uow: UnitOfWork) -> Page[Renewal]:
            guard_document(self.ctx, uow, principal, "renewal", customer_id, customer_id,
                           write=False, money=False)  # fmt: skip
            return uow.repository(Renewal).query_group("customer", customer_id, after=after,
                                                       limit=size)  # fmt: skip

        return self.ctx.read(principal, Action.OPPORTUNITY_READ, query)
