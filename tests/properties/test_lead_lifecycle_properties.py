"""Random interleavings of several services' commands keep every lead's ownership straight.

The lead pool property (``test_lead_pool_properties.py``) drives claims, releases and sweeps.
This machine mixes them with what other services do to the same leads: the sales process
(start working, disqualify, convert into a customer with a deal), the recycle bin (delete,
restore, purge), reps leaving with a handover (离职交接), and erasure requests that reach
leads holding a customer's phone, as time passes. After every step:

* the ``open_owner`` index is exactly the open leads' owners (what capacity counts);
* no open lead is owned by a rep who left;
* each lead's ownership history replays to its owner;
* a lead converts only through a conversion, into a customer that exists;
* the audit log verifies, and a refused command changed nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from command_machine import CommandMachine
from leadtocash import LeadToCash, Money
from leadtocash.model import Lead, LeadStatus, PoolId, RepId, SalesRep, ZoneId
from leadtocash.pool.leads import LeadPoolRules
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from leadtocash.testing.strategies import lead_pool_rules
from pool_fixtures import ADMIN, MANAGER, START, SYSTEM, rep_principal

REPS = [rep_principal(n) for n in (1, 2, 3)]
POOL = PoolId("leads-east")
LEADS = 6
lead_index = st.integers(0, LEADS - 1)
rep_index = st.integers(0, 2)
OPEN = (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED)


class LeadLifecycle(CommandMachine):
    crm: LeadToCash

    @initialize(rules=lead_pool_rules().map(lambda rules: attrs.evolve(rules, release_to=None)))
    def setup(self, rules: LeadPoolRules) -> None:
        self.store, self.clock = InMemoryStore(), FakeClock(START)
        self.crm = crm = LeadToCash(self.store, self.clock, SequentialIds())
        crm.lead_pools.create_pool(ADMIN, "East leads", zone_id=ZoneId("east"), rules=rules,
                                   pool_id=POOL)  # fmt: skip
        for n in (1, 2, 3):
            crm.reps.register(
                ADMIN, SalesRep(id=RepId(f"rep{n}"), name=f"Rep {n}", zone_id=ZoneId("east"))
            )
        self.leads: list[str] = []
        for n in range(LEADS):  # leads 0 and 3 share a phone: the second is a duplicate
            lead = crm.leads.capture(ADMIN, {
                "channel": "web_form", "company_name": f"华东{n}号贸易有限公司",
                "contact_name": f"联系人{n}", "phone": f"+861390000000{n % 3}",
            })  # fmt: skip
            crm.lead_pools.add_lead(ADMIN, lead.id, POOL)
            self.leads.append(lead.id)
        self.left: set[str] = set()
        self.converted: dict[str, str] = {}  # lead id -> the customer it became

    # -- helpers ----------------------------------------------------------------------------------
    def lead(self, lead_id: str) -> Lead | None:
        with self.crm.unit_of_work() as uow:
            return uow.leads.find_any(lead_id)

    def owner_of(self, index: int) -> Any:
        """The principal of the lead's owner (rep1 when it has none)."""
        lead = self.lead(self.leads[index])
        owner = lead.owner_id if lead is not None else None
        return next((p for p in REPS if p.rep_id == owner), REPS[0])

    # -- the lead pool ----------------------------------------------------------------------------
    @rule(rep=rep_index, index=lead_index)
    def claim(self, rep: int, index: int) -> None:
        self.attempt("claim", self.crm.lead_pools.claim, REPS[rep], self.leads[index])

    @rule(rep=rep_index, index=lead_index)
    def assign(self, rep: int, index: int) -> None:
        pools, target = self.crm.lead_pools, REPS[rep].rep_id
        self.attempt("assign", pools.assign, MANAGER, self.leads[index], target)

    @rule(rep=rep_index, index=lead_index)
    def transfer(self, rep: int, index: int) -> None:
        pools, target = self.crm.lead_pools, REPS[rep].rep_id
        self.attempt("transfer", pools.transfer, MANAGER, self.leads[index], target, "rebalance")

    @rule(index=lead_index, as_manager=st.booleans())
    def release(self, index: int, as_manager: bool) -> None:
        who = MANAGER if as_manager else self.owner_of(index)
        self.attempt("release", self.crm.lead_pools.release, who, self.leads[index], "cold")

    @rule(index=lead_index)
    def follow_up(self, index: int) -> None:
        pools = self.crm.lead_pools
        self.attempt("follow up", pools.log_follow_up, self.owner_of(index), self.leads[index])

    # -- the sales process ------------------------------------------------------------------------
    @rule(index=lead_index)
    def work(self, index: int) -> None:
        pipeline = self.crm.pipeline
        self.attempt("start", pipeline.start_working, self.owner_of(index), self.leads[index])

    @rule(index=lead_index)
    def disqualify(self, index: int) -> None:
        pipeline, who = self.crm.pipeline, self.owner_of(index)
        self.attempt("disqualify", pipeline.disqualify, who, self.leads[index], "no budget")

    @rule(index=lead_index)
    def convert(self, index: int) -> None:
        """The owner qualifies the lead and converts it: a customer (or the duplicate found)
        with a contact and a deal."""
        pipeline, who, lead_id = self.crm.pipeline, self.owner_of(index), self.leads[index]
        self.attempt("start", pipeline.start_working, who, lead_id)
        self.attempt("qualify", pipeline.qualify, who, lead_id)
        result = self.attempt(
            "convert", pipeline.convert, who, lead_id,
            amount=Money("5000", "CNY"), close_date=date(2026, 6, 30),
        )  # fmt: skip
        if result is not None:
            assert result.lead.status is LeadStatus.CONVERTED
            self.converted[lead_id] = result.customer.id

    # -- the bin, the organisation, privacy and time ----------------------------------------------
    @rule(index=lead_index)
    def delete(self, index: int) -> None:
        bin_ = self.crm.recycle_bin
        self.attempt("delete", bin_.delete, MANAGER, "lead", self.leads[index], "junk")

    @rule(index=lead_index)
    def restore(self, index: int) -> None:
        self.attempt("restore", self.crm.recycle_bin.restore, MANAGER, "lead", self.leads[index])

    @rule(index=lead_index)
    def purge(self, index: int) -> None:
        bin_ = self.crm.recycle_bin
        self.attempt("purge", bin_.purge, ADMIN, "lead", self.leads[index], "PIPL")

    @rule(index=lead_index)
    def erase(self, index: int) -> None:
        """Erase the people of the customer a lead converted into (and of every lead holding
        their phones)."""
        customer = self.converted.get(self.leads[index])
        if customer is not None:
            erase = self.crm.customers.erase_person
            self.attempt("erase", erase, ADMIN, customer_id=customer, reason="PIPL")

    @rule(rep=rep_index, handover=st.none() | rep_index)
    def leave(self, rep: int, handover: int | None) -> None:
        rep_id = str(REPS[rep].rep_id)
        to = None if handover is None else str(REPS[handover].rep_id)
        if self.attempt("leave", self.crm.org.leave, ADMIN, rep_id, "quit", handover_to=to):
            self.left.add(rep_id)

    @rule(hours=st.integers(1, 72))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))
        self.attempt("sweep", self.crm.lead_pools.sweep, SYSTEM)

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def the_open_owner_index_is_the_open_leads_owners(self) -> None:
        leads = [lead for lead in map(self.lead, self.leads) if lead is not None]
        live_open = [ld for ld in leads if ld.deleted is None and ld.status in OPEN]
        with self.crm.unit_of_work() as uow:
            indexed = sorted(uow.leads.index_entries("open_owner", limit=1000))
        assert indexed == sorted((ld.owner_id, ld.id) for ld in live_open if ld.owner_id)
        for lead in live_open:
            assert lead.owner_id not in self.left, f"{lead.owner_id} left but owns {lead.id}"

    @invariant()
    def history_replays_to_the_owner(self) -> None:
        for lead_id in self.leads:
            lead = self.lead(lead_id)
            if lead is None or lead.deleted is not None:
                continue
            owner = None
            for line in self.crm.lead_pools.history(ADMIN, lead_id):
                assert line.from_rep == owner, lead_id
                owner = line.to_rep
            assert owner == lead.owner_id, lead_id

    @invariant()
    def a_converted_lead_names_its_customer(self) -> None:
        for lead in map(self.lead, self.leads):
            if lead is not None and lead.status is LeadStatus.CONVERTED:
                customer = self.converted[lead.id]
                with self.crm.unit_of_work() as uow:
                    assert uow.customers.find_any(customer) is not None, lead.id


TestLeadLifecycle = LeadLifecycle.TestCase
TestLeadLifecycle.settings = settings(
    max_examples=settings().max_examples, stateful_step_count=30, deadline=None
)
