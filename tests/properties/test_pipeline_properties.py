"""Random trigger sequences never break the pipeline rules.

Two hypothesis state machines:

* ``EntityMachine`` fires random (legal and illegal) triggers at a few leads and opportunities
  (default flow and a custom flow with steps back) and checks each answer against an
  independent oracle of the state tables. After every step: every entity is in a legal state,
  refused triggers raised the right error and changed nothing, histories are in time order and
  replay to the current state, closing facts match the stage, and funnel counts are nested
  (entered ≥ advanced ≥ won at every stage).
* ``ServiceMachine`` drives ``PipelineService`` on the in-memory store and checks that the
  customer's pool facts (``open_opportunity_stage``, ``won``) always match its opportunities.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from leadtocash import (
    Channel,
    InvalidTransition,
    Lead,
    LeadId,
    LeadStatus,
    Money,
    PermissionDenied,
    RuleViolation,
    ValidationError,
)
from leadtocash.app.pipeline import PipelineService
from leadtocash.model import ContactId, CustomerId, RepId
from leadtocash.pipeline import (
    DEFAULT_FLOW,
    LEAD_TABLE,
    ForecastCategory,
    Opportunity,
    OpportunityId,
    OpportunityView,
    Stage,
    StageChange,
    StageFlow,
    StageKind,
    Step,
    apply_lead_trigger,
    fire,
    flow_table,
    funnel,
    open_opportunity,
    open_stage_rank,
)
from leadtocash.testing import strategies as strat
from pool_fixtures import ADMIN, MANAGER, World, contact_of, make_world, rep_principal

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)

# A custom flow whose graph differs from the default: a step back and an early win.
CUSTOM = StageFlow(
    "custom",
    [
        Stage("discover", 10),
        Stage("propose", 40, ForecastCategory.BEST_CASE),
        Stage("negotiate", 70, ForecastCategory.COMMIT, required_fields=("contact_id",)),
        Stage("done", 100, ForecastCategory.CLOSED, StageKind.WON),
        Stage("dropped", 0, ForecastCategory.OMITTED, StageKind.LOST),
    ],
    [
        Step("advance", "discover", "propose"), Step("advance", "propose", "negotiate"),
        Step("back", "propose", "discover"), Step("back", "negotiate", "propose"),
        Step("win", "propose", "done"), Step("win", "negotiate", "done"),
        *(Step("lose", s, "dropped") for s in ("discover", "propose", "negotiate")),
        Step("reopen", "dropped", "propose"),
    ],
    lost_reasons=("price", "timing"),
)  # fmt: skip
FLOWS = {DEFAULT_FLOW.name: DEFAULT_FLOW, CUSTOM.name: CUSTOM}

# Independent oracles: (state, trigger) -> destination, written out by hand from the spec.
LEAD_ORACLE = {
    ("new", "start_working"): "working", ("working", "qualify"): "qualified",
    ("new", "disqualify"): "disqualified", ("working", "disqualify"): "disqualified",
    ("qualified", "disqualify"): "disqualified", ("qualified", "convert"): "converted",
}  # fmt: skip
DEFAULT_ORDER = ["initial_contact", "needs_analysis", "quotation", "signing"]
OPP_ORACLE: dict[str, dict[tuple[str, str], str]] = {
    "default": {
        **{(a, "advance"): b for a, b in itertools.pairwise(DEFAULT_ORDER)},
        ("signing", "win"): "won", ("lost", "reopen"): "initial_contact",
        **{(s, "lose"): "lost" for s in DEFAULT_ORDER},
    },
    "custom": {(s.source, s.trigger): s.dest for s in CUSTOM.steps},
}  # fmt: skip
NEEDS_CONTACT = {"default": {"quotation"}, "custom": {"negotiate"}}

LEAD_TRIGGERS = st.sampled_from(["start_working", "qualify", "disqualify", "convert", "zap"])
OPP_TRIGGERS = st.sampled_from(["advance", "back", "win", "lose", "reopen", "zap"])
REASONS = st.sampled_from([None, "", "price", "timing", "competitor", "weather"])


def _lead(n: int, contact: bool) -> Lead:
    return Lead(
        id=LeadId(f"l{n}"), channel=Channel.CALL, company_name=f"公司{n}", created_at=T0,
        contact_name="王五" if contact else None,
    )  # fmt: skip


def _opp(n: int, flow: StageFlow) -> Opportunity:
    return open_opportunity(
        opportunity_id=OpportunityId(f"o{n}"), customer_id=CustomerId("c"),
        owner_id=RepId(f"r{n % 2}"), name=f"deal {n}", amount=Money(1000 * n, "CNY"),
        close_date=date(2026, 1 + n % 12, 1), at=T0, actor="u", flow=flow,
    )  # fmt: skip


class EntityMachine(RuleBasedStateMachine):
    """Random triggers on pure entities against an oracle of the state tables."""

    @initialize(contacts=st.lists(st.booleans(), min_size=3, max_size=3))
    def setup(self, contacts: list[bool]) -> None:
        self.now = T0
        self.leads = {n: _lead(n, c) for n, c in enumerate(contacts)}
        self.lead_history: dict[int, list[StageChange]] = {n: [] for n in self.leads}
        self.opps = {n: _opp(n, CUSTOM if n % 2 else DEFAULT_FLOW) for n in range(4)}

    @rule(minutes=st.integers(0, 3000))
    def tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(n=st.integers(0, 2), trigger=LEAD_TRIGGERS, reason=REASONS)
    def fire_lead(self, n: int, trigger: str, reason: str | None) -> None:
        lead = self.leads[n]
        state = lead.status.value
        dest = LEAD_ORACLE.get((state, trigger))
        needs_contact = dest in ("qualified", "converted") and lead.contact_name is None
        needs_reason = dest == "disqualified" and not reason
        snapshot = attrs.evolve(lead)

        def attempt() -> tuple[Lead, StageChange]:
            return apply_lead_trigger(lead, trigger, at=self.now, actor="u", reason=reason)

        if dest is None:
            with pytest.raises(InvalidTransition) as caught:
                attempt()
            assert (caught.value.state, caught.value.trigger) == (state, trigger)
            assert set(caught.value.allowed) == {t for (s, t) in LEAD_ORACLE if s == state}
        elif needs_contact or needs_reason:
            with pytest.raises(ValidationError):
                attempt()
        else:
            after, change = attempt()
            assert after.status == dest and change.stage_to == dest
            self.leads[n] = after
            self.lead_history[n].append(change)
        assert lead == snapshot  # the input is never modified; refusals change nothing

    @rule(n=st.integers(0, 3))
    def toggle_contact(self, n: int) -> None:
        opp = self.opps[n]
        self.opps[n] = attrs.evolve(opp, contact_id=None if opp.contact_id else ContactId("k"))

    @rule(n=st.integers(0, 3), trigger=OPP_TRIGGERS, reason=REASONS)
    def fire_opportunity(self, n: int, trigger: str, reason: str | None) -> None:
        opp = self.opps[n]
        flow = FLOWS[opp.flow]
        table = OPP_ORACLE[opp.flow]
        dest = table.get((opp.stage, trigger))
        missing_contact = dest in NEEDS_CONTACT[opp.flow] and opp.contact_id is None
        bad_reason = dest == flow.lost_stage and reason not in flow.lost_reasons
        snapshot = attrs.evolve(opp)

        def attempt() -> tuple[Opportunity, StageChange]:
            return fire(opp, trigger, at=self.now, actor="u", flow=flow, reason=reason)

        if dest is None:
            with pytest.raises(InvalidTransition) as caught:
                attempt()
            assert caught.value.state == opp.stage
            assert set(caught.value.allowed) == {t for (s, t) in table if s == opp.stage}
        elif missing_contact or bad_reason:
            with pytest.raises(ValidationError):
                attempt()
        else:
            after, change = attempt()
            assert after.stage == dest and after.history[-1] == change
            assert after.history[:-1] == opp.history
            self.opps[n] = after
        assert opp == snapshot  # the input is never modified; refusals change nothing

    @invariant()
    def every_entity_is_in_a_legal_state(self) -> None:
        for lead in self.leads.values():
            assert lead.status in LeadStatus
        for opp in self.opps.values():
            flow = FLOWS[opp.flow]
            assert flow.has_stage(opp.stage)
            kind = flow.stage(opp.stage).kind
            assert (opp.closed_at is not None) == (kind is not StageKind.OPEN)
            assert (opp.lost_reason is not None) == (kind is StageKind.LOST)

    @invariant()
    def histories_are_ordered_and_replay_to_the_state(self) -> None:
        for n, lead in self.leads.items():
            history = self.lead_history[n]
            assert LEAD_TABLE.replay(history) == lead.status.value
        for opp in self.opps.values():
            times = [c.at for c in opp.history]
            assert times == sorted(times) and opp.history[0].stage_from is None
            assert flow_table(FLOWS[opp.flow]).replay(opp.history) == opp.stage

    @invariant()
    def funnel_counts_are_nested(self) -> None:
        for flow in FLOWS.values():
            mine = [o for o in self.opps.values() if o.flow == flow.name]
            rows = funnel(self.opps.values(), flow)
            assert rows[0].entered == len(mine)
            for row in rows:
                assert row.entered >= row.advanced >= row.won
            won = sum(1 for o in mine if o.stage == flow.won_stage)
            assert rows[-1].won == won


TestEntityTriggers = EntityMachine.TestCase
TestEntityTriggers.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)

REPS = [rep_principal(1), rep_principal(2)]
REFUSALS = (InvalidTransition, ValidationError, PermissionDenied, RuleViolation)


class ServiceMachine(RuleBasedStateMachine):
    """Random service commands keep the customers' pool facts equal to their opportunities."""

    opps = Bundle("opps")

    @initialize()
    def setup(self) -> None:
        self.world: World = make_world(customers=2)
        self.pipeline = PipelineService(self.world.crm.ctx, flows=FLOWS)
        for rep, cid in zip(REPS, self.world.customers, strict=True):
            self.world.crm.pools.claim(rep, cid)
        self.created = 0

    @precondition(lambda self: self.created < 4)
    @rule(target=opps, c=st.integers(0, 1), custom=st.booleans(), contact=st.booleans())
    def create(self, c: int, custom: bool, contact: bool) -> str:
        self.created += 1
        opp = self.pipeline.create_opportunity(
            REPS[c], self.world.customers[c], name="deal", amount=Money(100, "CNY"),
            close_date=date(2026, 6, 1), flow="custom" if custom else "default",
            contact_id=contact_of(self.world.crm, self.world.customers[c]) if contact else None,
        )  # fmt: skip
        return opp.id

    def _attempt(self, opp_id: str, manager: bool, command: str, *args: Any, **kwargs: Any) -> None:
        opp = self.pipeline.get_opportunity(ADMIN, opp_id)
        who = MANAGER if manager else REPS[int(opp.owner_id[-1]) - 1]
        try:
            getattr(self.pipeline, command)(who, opp_id, *args, **kwargs)
        except REFUSALS:
            assert self.pipeline.get_opportunity(ADMIN, opp_id) == opp

    @rule(
        opp_id=opps,
        triggers=st.lists(st.sampled_from(["advance"] * 6 + ["back", "zap"]), max_size=4),
        manager=st.booleans(),
    )
    def advance(self, opp_id: str, triggers: list[str], manager: bool) -> None:
        for trigger in triggers:
            self._attempt(opp_id, manager, "advance", trigger=trigger)

    @rule(opp_id=opps, manager=st.booleans(), push=st.booleans())
    def win(self, opp_id: str, manager: bool, push: bool) -> None:
        for _ in range(4 if push else 0):  # push the deal forward until it can be won
            stage = self.pipeline.get_opportunity(ADMIN, opp_id).stage
            if stage in ("signing", "propose", "negotiate", "won", "done", "lost", "dropped"):
                break
            self._attempt(opp_id, manager, "advance")
        self._attempt(opp_id, manager, "win")

    @precondition(lambda self: self.created > 0)
    @rule(opp_id=opps, reason=REASONS, manager=st.booleans())
    def lose(self, opp_id: str, reason: str | None, manager: bool) -> None:
        self._attempt(opp_id, manager, "lose", reason or "")

    @rule(opp_id=opps, reason=REASONS, manager=st.booleans())
    def reopen(self, opp_id: str, reason: str | None, manager: bool) -> None:
        self._attempt(opp_id, manager, "reopen", reason or "")

    @rule(minutes=st.integers(1, 600))
    def tick(self, minutes: int) -> None:
        self.world.clock.advance(timedelta(minutes=minutes))

    @invariant()
    def customer_facts_match_opportunities(self) -> None:
        for cid in self.world.customers:
            customer = self.world.crm.pools.get_customer(ADMIN, cid)
            opps = [v.as_opportunity() for v in self.pipeline.opportunities(ADMIN, "customer", cid)]
            assert customer.open_opportunity_stage == open_stage_rank(opps, FLOWS.__getitem__)
            won = any(FLOWS[o.flow].stage(o.stage).kind is StageKind.WON for o in opps)
            assert customer.won == won
            if opps:
                assert customer.last_opportunity_at == max(o.created_at for o in opps)


TestServiceFacts = ServiceMachine.TestCase
TestServiceFacts.settings = settings(max_examples=20, stateful_step_count=40, deadline=None)


@given(strat.opportunities(), st.booleans())
def test_an_opportunity_view_shows_everything_but_a_hidden_amount(
    opportunity: Opportunity, show: bool
) -> None:
    view = OpportunityView.of(opportunity, show_amount=show)
    assert view.amount_hidden is not show
    if show:  # views show live opportunities: everything but the recycle-bin marker
        assert view.as_opportunity() == attrs.evolve(opportunity, deleted=None)
    else:
        assert view.amount is None
        with pytest.raises(PermissionDenied):
            view.as_opportunity()
    assert (view.id, view.stage, view.history, view.version) == (
        opportunity.id, opportunity.stage, opportunity.history, opportunity.version,
    )  # fmt: skip
