"""Random interleavings of several services' commands keep every customer's books straight.

The pool machine (``test_pool_properties.py``) drives ownership alone. This one mixes it with
what other services do to the same customers: merging duplicates (防撞单), the recycle bin
(delete, restore, purge), deals won, reps going on leave and leaving with a handover
(离职交接), erasure requests, and the reclaim sweep as time passes. After every step:

* no customer has two owners, and the owner index says who owns what;
* each rep's book counts what they own among the customers in force (not in the bin, not
  merged away), won and locked ones included;
* a rep who left owns nothing;
* each customer's ownership history replays to its owner;
* the audit log verifies, and a refused command changed nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from command_machine import CommandMachine, expected_book
from leadtocash import CollaboratorAccess as Access
from leadtocash import Money, RepId
from leadtocash.model import Customer
from leadtocash.pool.book import RepBook
from leadtocash.pool.rules import PoolRules
from leadtocash.testing.strategies import pool_rules
from pool_fixtures import ADMIN, MANAGER, SYSTEM, World, make_world, rep_principal

REPS = [rep_principal(n) for n in (1, 2, 3)]
CUSTOMERS = 6
customer_index = st.integers(0, CUSTOMERS - 1)
rep_index = st.integers(0, 2)


class CustomerLifecycle(CommandMachine):
    world: World

    @initialize(rules=pool_rules().map(lambda rules: attrs.evolve(rules, release_to=None)))
    def setup(self, rules: PoolRules) -> None:
        self.world = make_world(rules, customers=CUSTOMERS)
        self.store = self.world.store
        # Two customers share a phone with another one: duplicates a merge may join.
        crm = self.world.crm
        self.world.customers.append(
            crm.pools.add_customer(
                ADMIN, "客户0分公司", pool_id=self.world.pool_id, phones=["+8613900000000"]
            ).id
        )
        crm.org.create_zone(ADMIN, "east", "East")
        crm.org.create_zone(ADMIN, "west", "West")
        self.left: set[str] = set()

    # -- helpers ----------------------------------------------------------------------------------
    def customer(self, cid: str) -> Customer | None:
        with self.world.crm.unit_of_work() as uow:
            return uow.customers.find_any(cid)

    def in_force(self) -> list[Customer]:
        found = [self.customer(cid) for cid in self.world.customers]
        return [c for c in found if c is not None and c.deleted is None and c.merged_into is None]

    def cid(self, index: int) -> str:
        return self.world.customers[index]

    # -- ownership --------------------------------------------------------------------------------
    @rule(rep=rep_index, index=customer_index)
    def claim(self, rep: int, index: int) -> None:
        self.attempt("claim", self.world.crm.pools.claim, REPS[rep], self.cid(index))

    @rule(rep=rep_index, index=customer_index)
    def assign(self, rep: int, index: int) -> None:
        target = REPS[rep].rep_id
        self.attempt("assign", self.world.crm.pools.assign, MANAGER, self.cid(index), target)

    @rule(rep=rep_index, index=customer_index)
    def release(self, rep: int, index: int) -> None:
        crm = self.world.crm
        self.attempt("release", crm.pools.release, REPS[rep], self.cid(index), "not for me")

    @rule(rep=rep_index, index=customer_index)
    def transfer(self, rep: int, index: int) -> None:
        crm, target = self.world.crm, REPS[rep].rep_id
        self.attempt("transfer", crm.pools.transfer, MANAGER, self.cid(index), target, "rebalance")

    @rule(rep=rep_index, index=customer_index, access=st.none() | st.sampled_from(Access))
    def collaborate(self, rep: int, index: int, access: Access | None) -> None:
        crm, who = self.world.crm, REPS[rep].rep_id
        self.attempt(
            "collaborator",
            crm.pools.set_collaborator,
            MANAGER,
            self.cid(index),
            who,
            access,
            "help",
        )

    @rule(rep=rep_index, index=customer_index)
    def follow_up(self, rep: int, index: int) -> None:
        self.attempt("follow up", self.world.crm.pools.log_follow_up, REPS[rep], self.cid(index))

    @rule(
        picks=st.lists(customer_index, min_size=1, max_size=3, unique=True), seed=st.integers(0, 9)
    )
    def allocate(self, picks: list[int], seed: int) -> None:
        crm, ids = self.world.crm, [self.cid(i) for i in picks]
        self.attempt(
            "allocate", crm.allocation.allocate, MANAGER, self.world.pool_id, ids, seed=seed
        )

    @rule(rules=pool_rules().map(lambda rules: attrs.evolve(rules, release_to=None)))
    def change_rules(self, rules: PoolRules) -> None:
        crm = self.world.crm
        self.attempt(
            "rules", crm.reclaim.update_rules, ADMIN, self.world.pool_id, rules, "new rules"
        )

    @rule(rep=rep_index, west=st.booleans())
    def move(self, rep: int, west: bool) -> None:
        """A rep moves zone (their book stays theirs; the east pool is no longer theirs)."""
        zone = "west" if west else "east"
        org, rep_id = self.world.crm.org, str(REPS[rep].rep_id)
        self.attempt("move", org.move_rep, ADMIN, rep_id, zone_id=zone, team_id=None)

    @rule(index=customer_index, locked=st.booleans())
    def lock(self, index: int, locked: bool) -> None:
        crm = self.world.crm
        self.attempt("lock", crm.pools.set_lock, MANAGER, self.cid(index), locked, "key account")

    @rule(data=st.data())
    def win(self, data: st.DataObject) -> None:
        """The owner of an owned customer opens a deal with a contact, takes it to signing
        and wins it: a won customer counts as won in the owner's book."""
        owned = [c for c in self.in_force() if c.owner_id is not None]
        if not owned:
            return
        crm, customer = self.world.crm, data.draw(st.sampled_from(owned))
        owner = next(p for p in REPS if p.rep_id == customer.owner_id)
        contact = self.attempt("add contact", crm.contacts.add_contact, owner, customer.id, "王")
        deal = self.attempt(
            "open deal", crm.pipeline.create_opportunity, owner, customer.id,
            name="ERP", amount=Money("1000", "CNY"), close_date=date(2026, 6, 30),
            contact_id=contact and contact.id,
        )  # fmt: skip
        for _ in range(3 if deal is not None else 0):  # needs analysis, quotation, signing
            self.attempt("advance", crm.pipeline.advance, owner, deal.id)
        if deal is not None:
            self.attempt("win", crm.pipeline.win, owner, deal.id)

    # -- duplicates and the recycle bin -----------------------------------------------------------
    @rule(first=customer_index, second=customer_index)
    def merge(self, first: int, second: int) -> None:
        crm = self.world.crm
        self.attempt("merge", crm.collisions.merge, ADMIN, self.cid(first), self.cid(second), "dup")

    @rule(index=customer_index)
    def delete(self, index: int) -> None:
        crm = self.world.crm
        self.attempt("delete", crm.recycle_bin.delete, MANAGER, "customer", self.cid(index), "junk")

    @rule(index=customer_index)
    def restore(self, index: int) -> None:
        crm = self.world.crm
        self.attempt("restore", crm.recycle_bin.restore, MANAGER, "customer", self.cid(index))

    @rule(index=customer_index)
    def purge(self, index: int) -> None:
        crm = self.world.crm
        self.attempt("purge", crm.recycle_bin.purge, ADMIN, "customer", self.cid(index), "PIPL")

    @rule(index=customer_index)
    def erase(self, index: int) -> None:
        crm = self.world.crm
        self.attempt(
            "erase", crm.customers.erase_person, ADMIN, customer_id=self.cid(index), reason="PIPL"
        )

    # -- the organisation and time ----------------------------------------------------------------
    @rule(rep=rep_index, back=st.booleans())
    def leave_of_absence(self, rep: int, back: bool) -> None:
        org, rep_id = self.world.crm.org, str(REPS[rep].rep_id)
        if back:
            self.attempt("return", org.return_from_leave, ADMIN, rep_id)
        else:
            self.attempt("go on leave", org.go_on_leave, ADMIN, rep_id, "holiday")

    @rule(rep=rep_index, handover=st.none() | rep_index)
    def leave(self, rep: int, handover: int | None) -> None:
        rep_id = str(REPS[rep].rep_id)
        to = None if handover is None else str(REPS[handover].rep_id)
        if self.attempt("leave", self.world.crm.org.leave, ADMIN, rep_id, "quit", handover_to=to):
            self.left.add(rep_id)

    @rule(hours=st.integers(1, 72))
    def time_passes(self, hours: int) -> None:
        self.world.clock.advance(timedelta(hours=hours))
        self.attempt("sweep", self.world.crm.reclaim.sweep, SYSTEM)

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def one_owner_and_books_that_count_the_customers_in_force(self) -> None:
        customers = self.in_force()
        with self.world.crm.unit_of_work() as uow:
            owner_index = uow.customers.index_entries("owner", limit=1000)
            books = {
                rep: uow.repository(RepBook).find(rep) or RepBook(RepId(rep))
                for rep in (str(p.rep_id) for p in REPS)
            }
        assert len({ident for _, ident in owner_index}) == len(owner_index)
        assert sorted(owner_index) == sorted(
            (c.owner_id, c.id) for c in customers if c.owner_id is not None
        )
        for rep, book in books.items():
            expected = expected_book(rep, customers)
            assert attrs.evolve(book, version=0, left_at=None) == expected, rep
            assert (book.left_at is not None) == (rep in self.left), rep
            if rep in self.left:
                assert expected.owned == 0, f"{rep} left but owns customers"

    @invariant()
    def history_replays_to_the_owner(self) -> None:
        for customer in self.in_force():
            owner = None
            for line in self.world.crm.pools.history(ADMIN, customer.id):
                assert line.from_rep == owner, customer.id
                owner = line.to_rep
            assert owner == customer.owner_id, customer.id

    @invariant()
    def deal_facts_follow_the_deals(self) -> None:
        """A customer is won when one of its deals (its own, or a merged duplicate's) was won,
        and its open-deal stage is its furthest open deal's."""
        pipeline = self.world.crm.pipeline
        for customer in self.in_force():
            deals = pipeline.opportunities(ADMIN, "customer", customer.id)
            assert customer.won == any(d.stage == "won" for d in deals), customer.id
            open_stages = [d.stage for d in deals if d.stage not in ("won", "lost")]
            assert (customer.open_opportunity_stage is None) == (not open_stages), customer.id


TestCustomerLifecycle = CustomerLifecycle.TestCase
TestCustomerLifecycle.settings = settings(
    max_examples=settings().max_examples, stateful_step_count=30, deadline=None
)
