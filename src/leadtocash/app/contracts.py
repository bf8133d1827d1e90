"""Contracts (合同), amendments (补充协议) and deliveries (交付) through the facade.

``crm.contracts`` creates a draft from an accepted quote (one contract per quote: a storage
unique key) or from a won opportunity, edits drafts, runs submit → approve (a configured
approver, never the author) → sign → complete | terminate, proposes and decides amendments,
records and accepts deliveries, and reads contracts and their roll-up. Signing, completing and
terminating change customer facts through the customer write path
(:class:`~leadtocash.app.customers.CustomerWrites`): an active contract sets
``has_active_contract`` (the customer is then never reclaimed), and the end of the last active
one clears it and sets ``last_contract_end_at``, from which the pool rule
``after_contract_end`` schedules the reclaim. Every command is authorized, atomic and audits
each aggregate it changes once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites, with_archives
from leadtocash.app.documents import CashPolicies, guard_document, page_limit
from leadtocash.app.unit_of_work import Page, UnitOfWork
from leadtocash.contracts import (
    AmendmentId,
    AmendmentLine,
    Contract,
    ContractId,
    ContractLine,
    ContractRollUp,
    ContractStatus,
    DeliveryId,
    Invoice,
    Milestone,
    MilestoneSpec,
    Quote,
    accept_delivery,
    approve_amendment,
    approve_contract,
    complete_contract,
    contract_from_opportunity,
    contract_from_quote,
    decline_contract,
    edit_contract,
    propose_amendment,
    record_delivery,
    reject_amendment,
    roll_up,
    sign_contract,
    submit_contract,
    terminate_contract,
)
from leadtocash.contracts.events import (
    ContractApprovalNeeded,
    ContractCompleted,
    ContractSigned,
    ContractTerminated,
)
from leadtocash.errors import RuleViolation
from leadtocash.pipeline.flows import DEFAULT_FLOW, StageFlow
from leadtocash.pipeline.opportunity import Opportunity

__all__ = ["ContractService"]

_Step = Callable[[Contract, datetime], Contract]


def _default_flows() -> Mapping[str, StageFlow]:
    return {DEFAULT_FLOW.name: DEFAULT_FLOW}


@attrs.frozen
class ContractService:
    """Contracts of the caller's customers: lifecycle, amendments, deliveries, roll-ups."""

    ctx: AppContext
    flows: Mapping[str, StageFlow] = attrs.field(factory=_default_flows)
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )

    @property
    def policies(self) -> CashPolicies:
        """The organisation's policies in force (``crm.settings``: stored, audited)."""
        return self.ctx.settings.cash

    # -- shared steps -----------------------------------------------------------------------
    def _customer_facts(
        self, uow: UnitOfWork, contract: Contract, *, ended: bool, reason: str
    ) -> list[Change]:
        """Stage the customer's contract facts through the write path (its audit change), and
        those of the customer it was merged into, if it was: the company's contracts protect
        the survivor from reclaim too."""
        changes: list[Change] = []
        now = self.ctx.clock.now()
        for customer in self.customers.company(uow, contract.customer_id):
            if not ended:
                candidate = attrs.evolve(customer, has_active_contract=True)
            else:
                active = [
                    ident
                    for one in with_archives(uow, customer)
                    for _, ident in uow.repository(Contract).index_entries(
                        "active_customer", equals=one.id, limit=2
                    )
                ]
                if any(ident != contract.id for ident in active):
                    continue  # another contract of the company is still active
                candidate = attrs.evolve(
                    customer, has_active_contract=False, last_contract_end_at=now
                )
            staged = self.customers.stage(uow, customer, candidate, reason=reason, archive=True)
            changes += staged.changes
        return changes

    def _step(
        self,
        principal: Principal,
        action: Action,
        contract_id: str,
        step: _Step,
        *,
        reason: str | None = None,
    ) -> Contract:
        def command(uow: UnitOfWork) -> tuple[Contract, list[Change]]:
            repo = uow.repository(Contract)
            contract = repo.get(contract_id)
            guard_document(
                self.ctx, uow, principal, "contract", contract.id, contract.customer_id,
                write=True,
            )  # fmt: skip
            now = self.ctx.clock.now()
            after = step(contract, now)
            repo.save(after)
            changes = [Change("contract", contract.id, contract, after, reason)]
            return after, changes + self._follow_up(uow, contract, after, now)

        return self.ctx.execute(principal, action, command)

    def _follow_up(
        self, uow: UnitOfWork, before: Contract, after: Contract, now: datetime
    ) -> list[Change]:
        """Events and customer facts that follow a status change of a contract."""
        if before.status is after.status:
            pending = [a for a in after.amendments if a not in before.amendments]
            for amendment in pending:
                if amendment.status.value == "pending":
                    uow.record(
                        ContractApprovalNeeded(
                            now, after.id, after.customer_id, amendment.proposed_by, amendment.id
                        )
                    )
            return []
        status = after.status
        if status is ContractStatus.PENDING_APPROVAL:
            uow.record(ContractApprovalNeeded(now, after.id, after.customer_id, after.author_id))
            return []
        if status is ContractStatus.ACTIVE:
            uow.record(
                ContractSigned(now, after.id, after.customer_id, after.owner_id, after.total)
            )
            return self._customer_facts(
                uow, after, ended=False, reason=f"contract {after.id} signed"
            )
        if status is ContractStatus.COMPLETED:
            uow.record(ContractCompleted(now, after.id, after.customer_id, after.owner_id))
            return self._customer_facts(
                uow, after, ended=True, reason=f"contract {after.id} completed"
            )
        if status is ContractStatus.TERMINATED:
            uow.record(
                ContractTerminated(
                    now, after.id, after.customer_id, after.owner_id, after.reason or ""
                )
            )
            if before.status is ContractStatus.ACTIVE:
                return self._customer_facts(
                    uow, after, ended=True, reason=f"contract {after.id} terminated"
                )
        return []

    def _created(
        self,
        principal: Principal,
        ident: ContractId,
        make: Callable[[UnitOfWork, ContractId], tuple[Contract, list[Change]]],
    ) -> Contract:
        def command(uow: UnitOfWork) -> tuple[Contract, list[Change]]:
            repo = uow.repository(Contract)
            existing = repo.find(ident)
            if existing is not None:  # one contract per quote: its id is the quote's
                raise RuleViolation(
                    f"quote {existing.quote_id} already has contract {existing.id}",
                    code="contract.quote_has_contract",
                    details={"quote_id": existing.quote_id, "existing_id": existing.id},
                )
            contract, made = make(uow, ident)
            customer = guard_document(
                self.ctx, uow, principal, "contract", contract.id, contract.customer_id,
                write=True,
            )  # fmt: skip
            repo.add(contract)
            # The draft is a fact of its customer: the customer's write meets a concurrent
            # deletion on its version (whichever commits second re-runs and sees the other:
            # the draft is refused, or goes to the recycle bin with its customer).
            reason = f"contract {contract.id} drafted"
            facts = [
                change
                for one in self.customers.company(uow, customer.id)
                for change in self.customers.stage(
                    uow, one, attrs.evolve(one, last_contract_at=self.ctx.clock.now()),
                    reason=reason, archive=True,
                ).changes
            ]  # fmt: skip
            return contract, [Change("contract", contract.id, None, contract), *made, *facts]

        return self.ctx.execute(principal, Action.CONTRACT_WRITE, command)

    # -- creation and drafts ----------------------------------------------------------------
    def from_quote(
        self,
        principal: Principal,
        quote_id: str,
        *,
        title: str | None = None,
        plan: Sequence[MilestoneSpec] = (),
        ends_on: date | None = None,
    ) -> Contract:
        """A draft prefilled from an accepted quote (``contract.quote_not_accepted``).

        One contract per quote (``contract.quote_has_contract``): its id is derived from the
        quote's, so two concurrent conversions meet on the store's insert check.
        """

        def make(uow: UnitOfWork, ident: ContractId) -> tuple[Contract, list[Change]]:
            quote = uow.repository(Quote).get(quote_id)
            now = self.ctx.clock.now()
            contract = contract_from_quote(
                quote, ident, now, principal.user_id, title=title, plan=plan, ends_on=ends_on
            )
            return contract, []

        return self._created(principal, ContractId(f"contract-of-{quote_id}"), make)

    def from_opportunity(
        self,
        principal: Principal,
        opportunity_id: str,
        *,
        tax_rate: Decimal = Decimal("0.13"),
        plan: Sequence[MilestoneSpec] = (),
        ends_on: date | None = None,
    ) -> Contract:
        """A draft from a won opportunity: its amount as one tax-inclusive line."""

        def make(uow: UnitOfWork, ident: ContractId) -> tuple[Contract, list[Change]]:
            deals = uow.repository(Opportunity)
            opportunity = deals.get(opportunity_id)
            flow = self.flows.get(opportunity.flow)
            won = flow.won_stage if flow is not None else "won"
            contract = contract_from_opportunity(
                opportunity, ident, self.ctx.clock.now(), principal.user_id, won_stage=won,
                tax_rate=tax_rate, plan=plan, ends_on=ends_on,
            )  # fmt: skip
            # Recorded on the deal too, so the draft and a concurrent deletion of the deal
            # meet on its version, as they do on the customer's.
            linked = attrs.evolve(opportunity, contract_id=contract.id)
            deals.save(linked)
            reason = f"contract {contract.id} drafted"
            return contract, [Change("opportunity", opportunity.id, opportunity, linked, reason)]

        return self._created(principal, ContractId(self.ctx.ids.new_id("contract")), make)

    def edit(
        self,
        principal: Principal,
        contract_id: str,
        *,
        title: str | None = None,
        lines: Sequence[ContractLine] | None = None,
        plan: Sequence[MilestoneSpec] | None = None,
        ends_on: date | None = None,
    ) -> Contract:
        """Change a draft's title, lines, plan or end date (``ends_on``, from which renewals
        are planned); signed: ``contract.signed_immutable``."""
        return self._step(
            principal, Action.CONTRACT_WRITE, contract_id,
            lambda c, now: edit_contract(
                c, now, title=title, lines=lines, plan=plan, ends_on=ends_on
            ),
        )  # fmt: skip

    # -- lifecycle --------------------------------------------------------------------------
    def submit(self, principal: Principal, contract_id: str) -> Contract:
        """Ask for approval (a payment plan is required); approvers are notified."""
        return self._step(
            principal, Action.CONTRACT_WRITE, contract_id,
            lambda c, now: submit_contract(c, now, principal.user_id),
        )  # fmt: skip

    def approve(self, principal: Principal, contract_id: str, reason: str) -> Contract:
        """Approve (a configured approver role, never the author: ``contract.self_approval``)."""
        policy = self.policies.approvals
        return self._step(
            principal, Action.CONTRACT_APPROVE, contract_id,
            lambda c, now: approve_contract(c, policy, principal, reason, now), reason=reason,
        )  # fmt: skip

    def decline(self, principal: Principal, contract_id: str, reason: str) -> Contract:
        """Send back to draft for changes, with the reason."""
        policy = self.policies.approvals
        return self._step(
            principal, Action.CONTRACT_APPROVE, contract_id,
            lambda c, now: decline_contract(c, policy, principal, reason, now), reason=reason,
        )  # fmt: skip

    def sign(
        self, principal: Principal, contract_id: str, *, signed_at: datetime | None = None
    ) -> Contract:
        """Record the signature: approved → active; the customer has an active contract."""
        return self._step(
            principal, Action.CONTRACT_WRITE, contract_id,
            lambda c, now: sign_contract(c, signed_at or now, now, principal.user_id),
        )  # fmt: skip

    def complete(self, principal: Principal, contract_id: str) -> Contract:
        """Close a fulfilled contract (every line delivered; else ``contract.not_fulfilled``):
        active → completed (customer facts follow)."""
        return self._step(
            principal, Action.CONTRACT_WRITE, contract_id,
            lambda c, now: complete_contract(c, now, principal.user_id),
        )  # fmt: skip

    def terminate(self, principal: Principal, contract_id: str, reason: str) -> Contract:
        """End a contract early with the reason (customer facts follow when it was active)."""
        return self._step(
            principal, Action.CONTRACT_WRITE, contract_id,
            lambda c, now: terminate_contract(c, reason, now, principal.user_id), reason=reason,
        )  # fmt: skip

    # -- amendments -------------------------------------------------------------------------
    def propose_amendment(
        self,
        principal: Principal,
        contract_id: str,
        description: str,
        lines: Sequence[AmendmentLine],
        milestones: Sequence[Milestone] = (),
    ) -> Contract:
        """Propose an amendment (补充协议) to an active contract; approvers are notified."""
        ident = AmendmentId(self.ctx.ids.new_id("amendment"))
        return self._step(
            principal, Action.CONTRACT_WRITE, contract_id,
            lambda c, now: propose_amendment(
                c, ident, description, lines, milestones, now, principal.user_id
            ),
        )  # fmt: skip

    def approve_amendment(
        self, principal: Principal, contract_id: str, amendment_id: str, reason: str
    ) -> Contract:
        """Approve a pending amendment (never its proposer); its deltas take effect."""
        policy, ident = self.policies.approvals, AmendmentId(amendment_id)
        return self._step(
            principal, Action.CONTRACT_APPROVE, contract_id,
            lambda c, now: approve_amendment(c, ident, policy, principal, reason, now),
            reason=reason,
        )  # fmt: skip

    def reject_amendment(
        self, principal: Principal, contract_id: str, amendment_id: str, reason: str
    ) -> Contract:
        """Reject a pending amendment (kept with the reason, never in force)."""
        policy, ident = self.policies.approvals, AmendmentId(amendment_id)
        return self._step(
            principal, Action.CONTRACT_APPROVE, contract_id,
            lambda c, now: reject_amendment(c, ident, policy, principal, reason, now),
            reason=reason,
        )  # fmt: skip

    # -- deliveries -------------------------------------------------------------------------
    def record_delivery(
        self,
        principal: Principal,
        contract_id: str,
        quantities: Mapping[int, Decimal],
        delivered_on: date,
        *,
        note: str | None = None,
    ) -> Contract:
        """Record a (partial) delivery: line number → quantity, never above the order."""
        ident = DeliveryId(self.ctx.ids.new_id("delivery"))
        return self._step(
            principal, Action.DELIVERY_RECORD, contract_id,
            lambda c, now: record_delivery(
                c, ident, quantities, delivered_on, now, principal.user_id, note=note
            ),
        )  # fmt: skip

    def accept_delivery(
        self, principal: Principal, contract_id: str, delivery_id: str, accepted_on: date
    ) -> Contract:
        """Record the customer's acceptance (验收): delivery milestones get their due date."""
        ident = DeliveryId(delivery_id)
        return self._step(
            principal, Action.DELIVERY_RECORD, contract_id,
            lambda c, now: accept_delivery(c, ident, accepted_on, now, principal.user_id),
        )  # fmt: skip

    # -- reads ------------------------------------------------------------------------------
    def get(self, principal: Principal, contract_id: str) -> Contract:
        """One contract of a customer in the caller's read scope."""

        def query(uow: UnitOfWork) -> Contract:
            contract = uow.repository(Contract).get(contract_id)
            guard_document(
                self.ctx, uow, principal, "contract", contract.id, contract.customer_id,
                write=False,
            )  # fmt: skip
            return contract

        return self.ctx.read(principal, Action.CONTRACT_READ, query)

    def for_customer(
        self,
        principal: Principal,
        customer_id: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Page[Contract]:
        """One page of a customer's contracts, oldest first (the customer in the read scope)."""
        size = page_limit(limit)

        def query(uow: UnitOfWork) -> Page[Contract]:
            guard_document(
                self.ctx, uow, principal, "contract", customer_id, customer_id, write=False
            )
            repo = uow.repository(Contract)
            return repo.query_group("customer", customer_id, after=after, limit=size)

        return self.ctx.read(principal, Action.CONTRACT_READ, query)

    def roll_up(self, principal: Principal, contract_id: str) -> ContractRollUp:
        """Contracted, delivered, invoiced, collected and outstanding of one contract."""

        def query(uow: UnitOfWork) -> ContractRollUp:
            contract = uow.repository(Contract).get(contract_id)
            guard_document(
                self.ctx, uow, principal, "contract", contract.id, contract.customer_id,
                write=False,
            )  # fmt: skip
            invoices = uow.repository(Invoice).whole_group("contract", contract.id)
            return roll_up(contract, invoices)

        return self.ctx.read(principal, Action.CONTRACT_READ, query)
