"""Lead pools under random use: one owner per lead, caps never exceeded, fair distribution.

The fairness acceptance of issue 27: lead distribution — leads routed by channel and product
line, then given by the fair allocator — keeps every one of 10 equal reps within 1 lead of
its entitlement after every lead of 1,000 batches, in the pure allocator the service runs and
through the service itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from leadtocash import LeadToCash, PoolId, RepId, SalesRep, ZoneId
from leadtocash.allocation import FairnessLedger, LeadProfile, RepState, allocate
from leadtocash.allocation.routing import Route, Routing
from leadtocash.durations import Duration
from leadtocash.errors import LeadToCashError
from leadtocash.events import LeadOwnershipChanged, event_types
from leadtocash.model import Channel, Lead, LeadId
from leadtocash.pool.leads import LeadPoolRules
from leadtocash.serialization import structure
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from pool_fixtures import ADMIN, MANAGER, START, SYSTEM, rep_principal

REPS = [RepId(f"rep{n}") for n in range(1, 11)]
POOL = PoolId("leads")
CHANNELS = list(Channel)
LINES = ["crm", "erp", "hr"]
ROUTING = Routing(
    [
        Route("calls", channels={"call"}),
        Route("crm web", channels={"web_form"}, product_lines={"crm"}),
        Route("events", channels={"event", "referral"}),
    ]
)  # every row names every rep: equal eligibility, three rules
SHANGHAI = ZoneInfo("Asia/Shanghai")
BOUND = 1 - Fraction(1, 2 * (len(REPS) - 1))


def _lead(n: int) -> Lead:
    return Lead(
        id=LeadId(f"lead{n}"), channel=CHANNELS[n % len(CHANNELS)], company_name=f"公司{n}",
        created_at=START, zone_id=ZoneId("east"), product_line=LINES[n % len(LINES)],
    )  # fmt: skip


def _profile(lead: Lead) -> LeadProfile:
    extra = {"product_line": lead.product_line} if lead.product_line else None
    return ROUTING.profile(LeadProfile.from_lead(lead, extra=extra))


def _worst_after_every_lead(
    picks: Sequence[RepId | None], received: dict[RepId, int], served: int
) -> Fraction:
    """Feed ``picks`` into ``received``; the worst |received − entitlement| after any lead."""
    worst = Fraction(0)
    for rep_id in picks:
        assert rep_id is not None, "equal eligibility: every lead is given"
        received[rep_id] += 1
        served += 1
        entitlement = Fraction(served, len(REPS))
        worst = max(worst, *(abs(received[r] - entitlement) for r in REPS))
    return worst


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1000, max_size=1000), st.integers(0, 2**32))
def test_routed_lead_distribution_stays_within_one_lead_after_every_lead(
    sizes: list[int], seed: int
) -> None:
    reps = [RepState(rep_id, zone_id=ZoneId("east")) for rep_id in REPS]
    policy = ROUTING.policy(REPS)
    ledger = FairnessLedger(POOL)
    received = dict.fromkeys(REPS, 0)
    served, worst, n = 0, Fraction(0), 0
    for size in sizes:
        batch = [_profile(_lead(n + i)) for i in range(size)]
        n += size
        result = allocate(ledger, batch, reps, seed=seed, policy=policy)
        worst = max(worst, _worst_after_every_lead(list(result.picks), received, served))
        served += size
        ledger = result.ledger
    assert worst <= BOUND < 1


def _world(rules: LeadPoolRules, reps: int, clock: FakeClock | None = None) -> LeadToCash:
    crm = LeadToCash(InMemoryStore(), clock or FakeClock(START), SequentialIds())
    crm.lead_pools.create_pool(ADMIN, "Leads", zone_id=ZoneId("east"), rules=rules, pool_id=POOL)
    for n in range(1, reps + 1):
        crm.reps.register(
            ADMIN, SalesRep(id=RepId(f"rep{n}"), name=f"Rep {n}", zone_id=ZoneId("east"))
        )
    return crm


def _pool_leads(crm: LeadToCash, first: int, count: int) -> list[str]:
    with crm.unit_of_work() as uow:
        for n in range(first, first + count):
            uow.leads.add(_lead(n))
        uow.commit()
    ids = [f"lead{n}" for n in range(first, first + count)]
    for lead_id in ids:
        crm.lead_pools.add_lead(ADMIN, lead_id, POOL)
    return ids


def test_the_service_distributes_routed_leads_within_one_lead_of_entitlement() -> None:
    crm = _world(LeadPoolRules(), reps=10)
    received = dict.fromkeys(REPS, 0)
    served, worst, first = 0, Fraction(0), 0
    for batch in range(60):
        size = 1 + (batch * 7) % 5
        ids = _pool_leads(crm, first, size)
        first += size
        report = crm.lead_pools.allocate(MANAGER, POOL, ids, seed=11, routing=ROUTING)
        picks = [a.rep_id for a in report.assignments]
        assert [a.lead_id for a in report.assignments] == ids and not report.refusals
        worst = max(worst, _worst_after_every_lead(picks, received, served))
        served += size
        for rep_id in REPS:
            assert report.ledger.received(rep_id) == received[rep_id]
    assert worst <= BOUND < 1


# -- random use: one owner per lead, caps hold ----------------------------------------------------
RULES = LeadPoolRules(
    daily_claim_limit=2,
    capacity=3,
    no_follow_up=Duration.days(2),
    warn_before=Duration.days(1),
    reclaim_cooldown=Duration.hours(12),
)
operations = st.lists(
    st.tuples(
        st.sampled_from(["claim", "release", "assign", "follow_up", "sweep", "wait"]),
        st.integers(1, 3),  # rep
        st.integers(0, 5),  # lead
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(operations)
def test_no_lead_ever_has_two_owners_and_caps_are_never_exceeded(
    ops: list[tuple[str, int, int]],
) -> None:
    clock = FakeClock(START)
    crm = _world(RULES, reps=3, clock=clock)
    store = crm.ctx.store
    assert isinstance(store, InMemoryStore)
    ids = _pool_leads(crm, 0, 6)
    pools = crm.lead_pools
    for op, rep, n in ops:
        lead_id, who = ids[n], rep_principal(rep)
        try:
            if op == "claim":
                pools.claim(who, lead_id)
            elif op == "release":
                pools.release(who, lead_id, "not for me")
            elif op == "assign":
                pools.assign(MANAGER, lead_id, RepId(f"rep{rep}"))
            elif op == "follow_up":
                pools.log_follow_up(who, lead_id)
            elif op == "sweep":
                pools.sweep(SYSTEM)
            else:
                clock.advance(timedelta(hours=7 * rep))
        except LeadToCashError:
            pass
        with crm.unit_of_work() as uow:
            leads = [uow.leads.get(lead_id) for lead_id in ids]
        held = {RepId(f"rep{r}"): 0 for r in (1, 2, 3)}
        for lead in leads:
            if lead.owner_id is not None:
                held[lead.owner_id] += 1
                assert lead.pool_id == POOL
        assert max(held.values()) <= 3, "capacity exceeded"
    # The outbox replays every move: each starts from the owner the previous one left.
    kinds = event_types()
    owner: dict[str, RepId | None] = dict.fromkeys(ids)
    claims: dict[tuple[RepId | None, str], int] = {}
    for message in store._outbox.values():  # in commit order
        event = structure(message.payload, kinds[message.topic])
        if not isinstance(event, LeadOwnershipChanged):
            continue
        assert event.from_rep == owner[event.lead_id], "a lead was taken from the wrong owner"
        if event.from_rep is not None:
            assert event.to_rep is None, "ownership moved without going back to the pool"
        owner[event.lead_id] = event.to_rep
        if event.action == "claim":
            day = event.occurred_at.astimezone(SHANGHAI).date().isoformat()
            claims[event.to_rep, day] = claims.get((event.to_rep, day), 0) + 1
    assert all(count <= 2 for count in claims.values()), "daily claim limit exceeded"
    with crm.unit_of_work() as uow:
        assert owner == {lead_id: uow.leads.get(lead_id).owner_id for lead_id in ids}
