"""Pipeline use cases: lead status changes, conversion, opportunity stages and reads.

Every command runs through ``AppContext.execute`` (authorized, atomic, audited before → after,
retried on conflicts). Opportunity changes update the customer's pipeline facts in the same
unit of work — the highest open stage rank (``open_opportunity_stage``), the time of the last
new opportunity and ``won`` — and recompute its reclaim schedule and the rep book, as
``ReclaimService.record_facts`` does. Conversion finds an existing customer through the
anti-collision keys (USCC, normalized name) instead of creating a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.aggregates import OPPORTUNITY_QUERIES
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites
from leadtocash.app.documents import check_of_customer
from leadtocash.app.lead_scores import LeadScoring
from leadtocash.app.lead_writes import LeadPoolWrites
from leadtocash.app.org import named_rep
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.collision import (
    CollisionHit,
    ExistingRecord,
    check_duplicates,
    lead_keys,
)
from leadtocash.errors import PermissionDenied, ValidationError
from leadtocash.model import (
    Contact,
    ContactId,
    Customer,
    CustomerId,
    Lead,
    PoolId,
    RepId,
    SalesRep,
)
from leadtocash.money import Money
from leadtocash.pipeline import operations as ops
from leadtocash.pipeline.conversion import (
    ConversionResult,
    contact_from_lead,
    customer_from_lead,
    matching_contact,
    reusable_customer,
)
from leadtocash.pipeline.events import (
    LeadConverted,
    OpportunityCreated,
    lead_status_changed,
    stage_events,
)
from leadtocash.pipeline.flows import DEFAULT_FLOW, StageFlow, StageKind
from leadtocash.pipeline.leads import (
    DEFAULT_LEAD_RULES,
    LeadRules,
    LeadTrigger,
    apply_lead_trigger,
    require_reason,
)
from leadtocash.pipeline.machine import StageChange
from leadtocash.pipeline.opportunity import Opportunity, OpportunityId
from leadtocash.pipeline.views import OpportunityView, visible_opportunity
from leadtocash.pool.ownership import OwnershipFacts, check_capacity
from leadtocash.scopes import ScopeTarget, customer_target, lead_target

__all__ = ["PipelineService"]

_Step = Callable[[Opportunity, StageFlow, datetime, str], tuple[Opportunity, StageChange]]


def _default_flows() -> Mapping[str, StageFlow]:
    return {DEFAULT_FLOW.name: DEFAULT_FLOW}


@attrs.frozen
class PipelineService:
    """Lead lifecycle, lead conversion and opportunity stage changes."""

    ctx: AppContext
    flows: Mapping[str, StageFlow] = attrs.field(factory=_default_flows)
    lead_rules: LeadRules = DEFAULT_LEAD_RULES
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )
    scoring: LeadScoring = attrs.field(
        init=False, default=attrs.Factory(lambda self: LeadScoring(self.ctx), takes_self=True)
    )

    # -- shared steps ---------------------------------------------------------------------------
    def flow(self, name: str) -> StageFlow:
        """The configured flow called ``name``."""
        found = self.flows.get(name)
        if found is None:
            raise ValidationError.single(
                "flow", "pipeline.unknown_flow", f"no stage flow {name!r} is configured"
            )
        return found

    def _may_act(
        self,
        uow: UnitOfWork,
        principal: Principal,
        target: ScopeTarget,
        what: str,
        *,
        unowned_ok: bool = False,
    ) -> None:
        owner_id = target.owner_rep
        if principal.is_manager:
            self.ctx.guard(uow, principal, target, write=True)  # managers act within scope
            return
        if owner_id is None and unowned_ok:
            return
        if owner_id is not None and principal.rep_id == owner_id:
            return
        raise PermissionDenied(
            f"{principal.user_id} does not own {what}",
            code="pipeline.not_owner",
            details={"target": what, "user_id": principal.user_id},
        )

    def _shown(self, opportunity: Opportunity, principal: Principal) -> OpportunityView:
        """What every opportunity-returning method gives back: the caller's view."""
        return visible_opportunity(opportunity, principal, self.ctx.policy)

    def _target(self, uow: UnitOfWork, opportunity: Opportunity) -> ScopeTarget:
        customer = uow.customers.find(opportunity.customer_id)
        return ScopeTarget(
            "opportunity",
            opportunity.id,
            owner_rep=opportunity.owner_id,
            zone=customer.zone_id if customer else None,
            collaborators=customer.collaborators if customer else (),
        )

    def _all(self, uow: UnitOfWork, index: str, value: str) -> list[Opportunity]:
        repo, found, cursor = uow.repository(Opportunity), list[Opportunity](), None
        while True:
            page = repo.query(index, equals=value, after=cursor, limit=500)
            found.extend(page.items)
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    def _refresh_customer(
        self,
        uow: UnitOfWork,
        changed: Opportunity,
        *,
        created: bool = False,
        reason: str | None = None,
    ) -> list[Change]:
        """Stage the customer's new pipeline facts through the write path; its audit change."""
        customer = uow.customers.get(changed.customer_id)
        current = {o.id: o for o in self._all(uow, "customer", customer.id)}
        current[changed.id] = changed
        now = self.ctx.clock.now()
        rank = ops.open_stage_rank(current.values(), self.flow)
        updates: dict[str, object] = {"open_opportunity_stage": rank}
        if created:
            updates["last_opportunity_at"] = now
        if self.flow(changed.flow).stage(changed.stage).kind is StageKind.WON:
            updates["won"] = True
        candidate = attrs.evolve(customer, **updates)  # type: ignore[arg-type]
        return list(self.customers.stage(uow, customer, candidate, reason=reason).changes)

    # -- leads ----------------------------------------------------------------------------------
    def _lead_command(
        self, principal: Principal, lead_id: str, trigger: LeadTrigger, reason: str | None = None
    ) -> Lead:
        def command(uow: UnitOfWork) -> tuple[Lead, list[Change]]:
            lead = uow.leads.get(lead_id)
            self._may_act(uow, principal, lead_target(lead), f"lead {lead.id}", unowned_ok=True)
            now = self.ctx.clock.now()
            after, change = apply_lead_trigger(
                lead, trigger, at=now, actor=principal.user_id, reason=reason,
                rules=self.lead_rules,
            )  # fmt: skip
            after = self.scoring.scored(uow, after)  # the score follows the status
            after = LeadPoolWrites(self.ctx).progressed(uow, lead, after)  # reclaim clock
            uow.record(lead_status_changed(lead.id, change))
            return after, [Change("lead", lead.id, lead, after, change.reason)]

        return self.ctx.execute(principal, Action.LEAD_TRANSITION, command)

    def start_working(self, principal: Principal, lead_id: str) -> Lead:
        """new → working."""
        return self._lead_command(principal, lead_id, LeadTrigger.START_WORKING)

    def qualify(self, principal: Principal, lead_id: str) -> Lead:
        """working → qualified (the rules' required fields must be filled)."""
        return self._lead_command(principal, lead_id, LeadTrigger.QUALIFY)

    def disqualify(self, principal: Principal, lead_id: str, reason: str) -> Lead:
        """new | working | qualified → disqualified; a reason is required."""
        return self._lead_command(principal, lead_id, LeadTrigger.DISQUALIFY, reason)

    # -- opportunities --------------------------------------------------------------------------
    def create_opportunity(
        self,
        principal: Principal,
        customer_id: str,
        *,
        name: str,
        amount: Money,
        close_date: date,
        owner_id: RepId | None = None,
        flow: str = DEFAULT_FLOW.name,
        contact_id: ContactId | None = None,
        next_step: str | None = None,
        custom: Mapping[str, str] | None = None,
    ) -> OpportunityView:
        """Open an opportunity on a customer the caller owns (managers: any customer)."""
        stage_flow = self.flow(flow)

        def command(uow: UnitOfWork) -> tuple[Opportunity, list[Change]]:
            customer = uow.customers.get(customer_id)
            self._may_act(uow, principal, customer_target(customer), f"customer {customer.id}")
            owner = owner_id or customer.owner_id or principal.rep_id
            if owner is None:
                raise ValidationError.single(
                    "owner_id", "field.required", "the opportunity needs an owner"
                )
            _check_contact(uow, contact_id, customer.id)
            now = self.ctx.clock.now()
            opportunity = ops.open_opportunity(
                opportunity_id=OpportunityId(self.ctx.ids.new_id("opportunity")),
                customer_id=customer.id, owner_id=owner, name=name, amount=amount,
                close_date=close_date, at=now, actor=principal.user_id, flow=stage_flow,
                contact_id=contact_id, next_step=next_step, custom=custom,
            )  # fmt: skip
            opportunity_change, customer_changes = self._stage_new(uow, opportunity)
            return opportunity, [opportunity_change, *customer_changes]

        stored = self.ctx.execute(principal, Action.OPPORTUNITY_CREATE, command)
        return self._shown(stored, principal)

    def _stage_new(self, uow: UnitOfWork, opportunity: Opportunity) -> tuple[Change, list[Change]]:
        uow.repository(Opportunity).add(opportunity)
        # Filed under the customer as read: a concurrent merge or transfer re-runs the command.
        uow.expect_unchanged(uow.customers.get(opportunity.customer_id))
        customer_changes = self._refresh_customer(
            uow, opportunity, created=True, reason="new opportunity"
        )
        uow.record(
            OpportunityCreated(
                opportunity.created_at, opportunity.id, opportunity.customer_id,
                opportunity.owner_id, opportunity.stage, opportunity.amount,
                opportunity.close_date,
            )
        )  # fmt: skip
        return Change("opportunity", opportunity.id, None, opportunity), customer_changes

    def _move(
        self, principal: Principal, action: Action, opportunity_id: str, step: _Step
    ) -> OpportunityView:
        def command(uow: UnitOfWork) -> tuple[Opportunity, list[Change]]:
            repo = uow.repository(Opportunity)
            opportunity = repo.get(opportunity_id)
            self._may_act(
                uow, principal, self._target(uow, opportunity), f"opportunity {opportunity.id}"
            )
            flow = self.flow(opportunity.flow)
            after, change = step(opportunity, flow, self.ctx.clock.now(), principal.user_id)
            repo.save(after)
            for event in stage_events(after, change, flow):
                uow.record(event)
            return after, [
                Change("opportunity", after.id, opportunity, after, change.reason),
                *self._refresh_customer(uow, after),
            ]

        return self._shown(self.ctx.execute(principal, action, command), principal)

    def advance(
        self, principal: Principal, opportunity_id: str, *, trigger: str = "advance"
    ) -> OpportunityView:
        """Fire an open-stage trigger (default ``advance``: to the next stage)."""
        return self._move(
            principal, Action.OPPORTUNITY_UPDATE, opportunity_id,
            lambda o, f, at, by: ops.fire(o, trigger, at=at, actor=by, flow=f),
        )  # fmt: skip

    def win(self, principal: Principal, opportunity_id: str) -> OpportunityView:
        """Close as won; the customer becomes ``won``."""
        return self._move(
            principal, Action.OPPORTUNITY_UPDATE, opportunity_id,
            lambda o, f, at, by: ops.win(o, at=at, actor=by, flow=f),
        )  # fmt: skip

    def lose(self, principal: Principal, opportunity_id: str, reason: str) -> OpportunityView:
        """Close as lost with a reason from the flow's list."""
        return self._move(
            principal, Action.OPPORTUNITY_UPDATE, opportunity_id,
            lambda o, f, at, by: ops.lose(o, reason, at=at, actor=by, flow=f),
        )  # fmt: skip

    def reopen(self, principal: Principal, opportunity_id: str, reason: str) -> OpportunityView:
        """Reopen a lost deal (explicit, permissioned, audited with its reason)."""
        why = require_reason(reason)
        return self._move(
            principal, Action.OPPORTUNITY_REOPEN, opportunity_id,
            lambda o, f, at, by: ops.reopen(o, at=at, actor=by, flow=f, reason=why),
        )  # fmt: skip

    def edit(
        self,
        principal: Principal,
        opportunity_id: str,
        *,
        name: str | None = None,
        amount: Money | None = None,
        close_date: date | None = None,
        contact_id: ContactId | None = None,
        next_step: str | None = None,
        custom: Mapping[str, str] | None = None,
    ) -> OpportunityView:
        """Change an open opportunity's details (None = unchanged; ``custom`` keys merge)."""
        given = {"name": name, "amount": amount, "close_date": close_date,
                 "contact_id": contact_id, "next_step": next_step}  # fmt: skip
        updates: dict[str, object] = {k: v for k, v in given.items() if v is not None}

        def command(uow: UnitOfWork) -> tuple[Opportunity, list[Change]]:
            repo = uow.repository(Opportunity)
            opportunity = repo.get(opportunity_id)
            self._may_act(
                uow, principal, self._target(uow, opportunity), f"opportunity {opportunity.id}"
            )
            if opportunity.closed_at is not None:
                raise ValidationError.single(
                    "stage", "pipeline.closed", f"opportunity {opportunity.id} is closed"
                )
            _check_contact(uow, contact_id, opportunity.customer_id)
            if custom:
                updates["custom"] = {**opportunity.custom, **custom}
            updates["updated_at"] = self.ctx.clock.now()
            after = attrs.evolve(opportunity, **updates)  # type: ignore[arg-type]
            repo.save(after)
            return after, [Change("opportunity", after.id, opportunity, after)]

        return self._shown(
            self.ctx.execute(principal, Action.OPPORTUNITY_UPDATE, command), principal
        )

    # -- conversion -----------------------------------------------------------------------------
    def convert(
        self,
        principal: Principal,
        lead_id: str,
        *,
        amount: Money,
        close_date: date,
        opportunity_name: str | None = None,
        pool_id: PoolId | None = None,
        flow: str = DEFAULT_FLOW.name,
        contact_title: str | None = None,
        rep_id: str | None = None,
    ) -> ConversionResult:
        """Qualified lead → customer (or the existing one dedup finds) + contact + opportunity.

        One unit of work. An existing customer found by a blocking dedup key (USCC, name) is
        reused when the opportunity's owner owns it; owned by someone else (or sitting in a
        pool) the conversion is refused with ``collision.duplicate`` naming it, masked unless
        the caller is a manager. A new customer is owned by the lead's owner (or the caller),
        inside ``pool_id`` when given (capacity checked).

        ``rep_id`` names who the conversion is for: a manager (zone or team scope) converts an
        unowned lead, or hands an owned one over, to an available rep inside their scope; a
        rep may name only themself.
        """
        stage_flow = self.flow(flow)

        def command(uow: UnitOfWork) -> tuple[ConversionResult, list[Change]]:
            lead = uow.leads.get(lead_id)
            self._may_act(uow, principal, lead_target(lead), f"lead {lead.id}", unowned_ok=True)
            owner = self._converting_for(uow, principal, lead, rep_id)
            now = self.ctx.clock.now()
            converted, change = apply_lead_trigger(
                lead, LeadTrigger.CONVERT, at=now, actor=principal.user_id,
                rules=self.lead_rules,
            )  # fmt: skip
            existing, warnings = self._existing_customer(uow, principal, lead, owner)
            customer = existing or self._new_customer(uow, lead, owner, pool_id)
            contact, contact_changes = self._contact_for(uow, customer.id, lead, contact_title)
            opportunity = ops.open_opportunity(
                opportunity_id=OpportunityId(self.ctx.ids.new_id("opportunity")),
                customer_id=customer.id, owner_id=owner,
                name=opportunity_name or lead.company_name, amount=amount,
                close_date=close_date, at=now, actor=principal.user_id, flow=stage_flow,
                contact_id=contact.id if contact else None, lead_id=lead.id,
            )  # fmt: skip
            opportunity_change, customer_changes = self._stage_new(uow, opportunity)
            final = uow.customers.get(customer.id)
            if existing is None:  # audit the new customer as created, in its final form
                customer_changes = [Change("customer", customer.id, None, final, "lead converted")]
            converted = self.scoring.scored(uow, converted)
            uow.leads.save(converted)
            uow.record(lead_status_changed(lead.id, change))
            contact_id = contact.id if contact else None
            reused = existing is not None
            uow.record(LeadConverted(now, lead.id, customer.id, contact_id, opportunity.id, reused))
            result = ConversionResult(converted, final, contact, opportunity, reused, warnings)
            return result, [
                Change("lead", lead.id, lead, converted, "converted"),
                *customer_changes,
                *contact_changes,
                opportunity_change,
            ]

        return self.ctx.execute(principal, Action.LEAD_CONVERT, command)

    def _converting_for(
        self, uow: UnitOfWork, principal: Principal, lead: Lead, rep_id: str | None
    ) -> RepId:
        """Who a conversion is for: the named rep (checked), else the lead's owner or the
        caller's rep."""
        if rep_id is None:
            owner = lead.owner_id or principal.rep_id
            if owner is None:
                raise ValidationError.single(
                    "rep_id", "field.required", "the lead has no owner: name the rep to convert for"
                )
            return owner
        if not principal.is_manager and rep_id != principal.rep_id:
            raise PermissionDenied(
                f"{principal.user_id} may convert only for themself",
                code="pipeline.not_owner",
                details={"target": f"lead {lead.id}", "user_id": principal.user_id},
            )
        return named_rep(self.ctx, uow, principal, rep_id).id

    def _existing_customer(
        self, uow: UnitOfWork, principal: Principal, lead: Lead, owner: RepId
    ) -> tuple[Customer | None, tuple[CollisionHit, ...]]:
        keys = lead_keys(lead)
        found: dict[str, Customer] = {}
        for key in sorted(keys):
            customer = uow.customers.find_unique(key.text)
            if customer is not None:
                found.setdefault(customer.id, customer)
        report = check_duplicates(
            keys,
            [ExistingRecord.from_customer(c) for c in found.values()],
            self.ctx.collision,
            viewer_may_see=lambda r: principal.is_manager or r.owner_id == owner,
        )
        return reusable_customer(report, found, owner), report.warnings

    def _new_customer(
        self, uow: UnitOfWork, lead: Lead, owner: RepId, pool_id: PoolId | None
    ) -> Customer:
        now = self.ctx.clock.now()
        if pool_id is not None:
            rules = self.customers.rules_of(uow, pool_id)
            book = self.customers.book(uow, owner)
            facts = OwnershipFacts(now, self.ctx.timezone, book, calendar=self.ctx.calendar)
            check_capacity(rules, facts)
        customer_id = CustomerId(self.ctx.ids.new_id("customer"))
        customer = customer_from_lead(
            lead, customer_id=customer_id, owner_id=owner, at=now, pool_id=pool_id
        )
        return self.customers.stage(uow, None, customer).after

    def _contact_for(
        self, uow: UnitOfWork, customer_id: CustomerId, lead: Lead, title: str | None
    ) -> tuple[Contact | None, list[Change]]:
        known = uow.contacts.query("customer", equals=customer_id, limit=500).items
        found = matching_contact(known, lead)
        if found is not None:
            return found, []
        contact = contact_from_lead(
            lead,
            contact_id=ContactId(self.ctx.ids.new_id("contact")),
            customer_id=customer_id,
            title=title,
        )
        if contact is None:
            return None, []
        uow.contacts.add(contact)
        return contact, [Change("contact", contact.id, None, contact)]

    # -- reads ----------------------------------------------------------------------------------
    def get_opportunity(self, principal: Principal, opportunity_id: str) -> OpportunityView:
        """One opportunity in the caller's data scope (amount hidden when they may not see it).

        NotFound when there is none; PermissionDenied ``auth.out_of_scope`` outside the scope.
        """

        def query(uow: UnitOfWork) -> Opportunity:
            # the opportunity and the caller's rep (where the data scope places them), at once
            uow.preload((Opportunity, opportunity_id), (SalesRep, principal.rep_id))
            opportunity = uow.repository(Opportunity).get(opportunity_id)
            self.ctx.guard(uow, principal, self._target(uow, opportunity), write=False)
            return opportunity

        return self._shown(self.ctx.read(principal, Action.OPPORTUNITY_READ, query), principal)

    def opportunities(self, principal: Principal, index: str, value: str) -> list[OpportunityView]:
        """The opportunities in the caller's data scope whose ``index`` (owner, customer, stage,
        close_month, open_close_date) is ``value``; amounts hidden where the caller may not
        see them. Another ``index`` is refused (``field.choice`` on ``index``)."""
        if index not in OPPORTUNITY_QUERIES:
            choices = ", ".join(sorted(OPPORTUNITY_QUERIES))
            raise ValidationError.single("index", "field.choice", f"one of {choices}")

        def query(uow: UnitOfWork) -> list[Opportunity]:
            found = self._all(uow, index, value)
            uow.customers.get_many([o.customer_id for o in found])  # one read for the scopes
            return [o for o in found if self.ctx.in_scope(uow, principal, self._target(uow, o))]

        listed = self.ctx.read(principal, Action.OPPORTUNITY_READ, query)
        return [self._shown(o, principal) for o in listed]


def _check_contact(uow: UnitOfWork, contact_id: str | None, customer_id: str) -> None:
    """A deal's contact must exist (NotFound) and be one of its customer's
    (``pipeline.contact_mismatch``): a stage may require it, and another's would pass."""
    if contact_id is not None:
        contact = uow.contacts.get(contact_id)
        check_of_customer(
            contact, customer_id, code="pipeline.contact_mismatch", field="contact_id"
        )
