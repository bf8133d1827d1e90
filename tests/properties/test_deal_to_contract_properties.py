"""Random interleavings of the selling commands, through the facade, keep the deal and contract
facts right.

Two customers (owned by rep1 and rep2) are sold to as an app would: whole sales (quote to
signed contract) by the owner, and single steps: deals created, advanced,
won, lost and reopened; quotes drafted (some discounted past what a rep may give alone),
submitted, approved or declined, sent, accepted or rejected, revised, left to expire; contracts
drafted from accepted quotes and won deals, submitted, approved or declined, signed,
completed, terminated — by whoever tries (the owner, the other rep, a manager, an admin), as
time passes, while the customers change hands and may be merged. After every step, read back
from the store:

* the indexes of quotes, contracts, deals and customers are exactly what the records hold;
* a customer in force is ``won`` exactly when one of its deals is won, has an open-deal stage
  exactly when one of its deals is open, and has an active contract exactly while one of its
  contracts runs;
* a contract made from a quote is that accepted quote's only one, for its customer and total;
* right after the expiry sweep, no sent quote is past its validity;
* after a merge every quote, contract and deal is the survivor's;
* the audit log verifies, and a refused command changed nothing.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from command_machine import CommandMachine, assert_indexes_exact, stored
from contract_fixtures import cash_world, deliver_in_full
from leadtocash import Money
from leadtocash.contracts import (
    Contract,
    LineInput,
    MilestoneBasis,
    MilestoneSpec,
    ProductId,
    Quote,
)
from leadtocash.contracts.quotes import QuoteStatus
from leadtocash.durations import local_day
from leadtocash.model import Customer
from leadtocash.pipeline.opportunity import Opportunity
from pool_fixtures import ADMIN, MANAGER, SYSTEM, World, contact_of, rep_principal

T = TypeVar("T")
REP1, REP2 = rep_principal(1), rep_principal(2)
WHO = st.sampled_from([REP1, REP1, REP2, MANAGER, ADMIN])
WHICH = st.integers(0, 1)
PLAN = (
    MilestoneSpec(
        "验收款", percent=Decimal(100), basis=MilestoneBasis.FULL_DELIVERY, days_after_delivery=30
    ),
)
LINES = st.lists(
    st.builds(
        LineInput,
        st.integers(1, 5).map(Decimal),
        st.sampled_from([ProductId("SRV-1"), ProductId("SVC-INST")]),
    ),
    min_size=1,
    max_size=2,
)


class DealToContract(CommandMachine):
    world: World

    @initialize()
    def setup(self) -> None:
        self.world, first, second = cash_world(customers=2)
        self.store = self.world.store
        self.customers = [first, second]
        # deals past needs analysis name a contact of their customer
        self.contacts = [contact_of(self.world.crm, cid) for cid in self.customers]
        self.quotes: list[str] = []
        self.contracts: list[str] = []
        self.deals: list[str] = []

    # -- reads ------------------------------------------------------------------------------------
    def all(self, cls: type[T]) -> list[T]:
        return stored(self.world.crm, cls)

    # -- deals ------------------------------------------------------------------------------------
    @rule(who=WHO, c=WHICH, amount=st.integers(1, 10**6), contact=st.booleans())
    def open_deal(self, who: Any, c: int, amount: int, contact: bool) -> None:
        close = self.world.clock.now().date() + timedelta(days=30)
        deal = self.attempt(
            "open deal", self.world.crm.pipeline.create_opportunity, who, self.customers[c],
            name="ERP", amount=Money(amount, "CNY"), close_date=close,
            contact_id=self.contacts[c] if contact else None,
        )  # fmt: skip
        if deal is not None:
            self.deals.append(deal.id)

    @rule(
        data=st.data(),
        who=WHO,
        step=st.sampled_from(["advance", "win", "lose", "reopen"]),
        reason=st.sampled_from(["price", "not-a-reason"]),
    )
    def move_deal(self, data: st.DataObject, who: Any, step: str, reason: str) -> None:
        picked = self.pick(data, self.deals)
        if picked is None:
            return
        pipeline = self.world.crm.pipeline
        if step in ("advance", "win"):
            self.attempt(step, getattr(pipeline, step), who, picked)
        else:
            self.attempt(step, getattr(pipeline, step), who, picked, reason)

    # -- quotes -----------------------------------------------------------------------------------
    @rule(who=WHO, c=WHICH, lines=LINES, discount=st.sampled_from(["0", "0.05", "0.3"]),
          days=st.integers(1, 20), on_deal=st.booleans(), data=st.data())  # fmt: skip
    def draft_quote(
        self, who: Any, c: int, lines: list[LineInput], discount: str, days: int, on_deal: bool,
        data: st.DataObject,
    ) -> None:  # fmt: skip
        deal = self.pick(data, self.deals) if on_deal else None
        quote = self.attempt(
            "draft quote", self.world.crm.quotes.draft, who, self.customers[c], "CNY", lines,
            validity_days=days, discount_rate=Decimal(discount), opportunity_id=deal,
        )  # fmt: skip
        if quote is not None:
            self.quotes.append(quote.id)

    @rule(
        data=st.data(),
        who=WHO,
        step=st.sampled_from(["submit", "approve", "decline", "send", "accept", "reject"]),
    )
    def move_quote(self, data: st.DataObject, who: Any, step: str) -> None:
        picked = self.pick(data, self.quotes)
        if picked is None:
            return
        call = getattr(self.world.crm.quotes, step)
        if step in ("approve", "decline", "reject"):
            self.attempt(step, call, who, picked, "审核")
        else:
            self.attempt(step, call, who, picked)

    @rule(data=st.data(), who=WHO, lines=st.none() | LINES)
    def revise_quote(self, data: st.DataObject, who: Any, lines: list[LineInput] | None) -> None:
        picked = self.pick(data, self.quotes)
        if picked is not None:
            revised = self.attempt("revise", self.world.crm.quotes.revise, who, picked, lines=lines)
            if revised is not None:
                self.quotes.append(revised.id)

    @rule(days=st.integers(1, 15))
    def days_pass_and_quotes_expire(self, days: int) -> None:
        crm = self.world.crm
        self.world.clock.advance(timedelta(days=days))
        crm.quotes.expire_due(SYSTEM)
        today = local_day(self.world.clock.now(), crm.ctx.timezone)
        for quote in self.all(Quote):
            if quote.status is QuoteStatus.SENT:
                assert quote.valid_until >= today, f"{quote.id} is past its validity"

    # -- contracts --------------------------------------------------------------------------------
    @rule(data=st.data(), who=WHO, from_deal=st.booleans())
    def draft_contract(self, data: st.DataObject, who: Any, from_deal: bool) -> None:
        contracts = self.world.crm.contracts
        if from_deal:
            picked = self.pick(data, self.deals)
            made = picked and self.attempt(
                "contract from deal", contracts.from_opportunity, who, picked, plan=PLAN
            )
        else:
            picked = self.pick(data, self.quotes)
            made = picked and self.attempt(
                "contract from quote", contracts.from_quote, who, picked, plan=PLAN
            )
        if made:
            self.contracts.append(made.id)

    @rule(
        data=st.data(),
        who=WHO,
        step=st.sampled_from(
            ["submit", "approve", "decline", "sign", "deliver", "complete", "terminate"]
        ),
    )
    def move_contract(self, data: st.DataObject, who: Any, step: str) -> None:
        picked = self.pick(data, self.contracts)
        if picked is None:
            return
        if step == "deliver":  # what is left of every line (completion needs it all)
            crm, today = self.world.crm, self.world.clock.now().date()
            contract = self.attempt("read", crm.contracts.get, ADMIN, picked)
            if contract is not None:
                self.attempt("deliver", deliver_in_full, crm, who, contract, today)
            return
        call = getattr(self.world.crm.contracts, step)
        if step in ("approve", "decline", "terminate"):
            self.attempt(step, call, who, picked, "审批")
        else:
            self.attempt(step, call, who, picked)

    # -- the way a sale usually goes: the next step, by whoever may take it -----------------------
    def owner_of(self, customer_id: str) -> Any:
        with self.world.crm.unit_of_work() as uow:
            owner = uow.customers.get(customer_id).owner_id
        return {REP1.rep_id: REP1, REP2.rep_id: REP2}.get(owner, ADMIN)

    @rule(c=WHICH, lines=LINES, discount=st.sampled_from(["0", "0.3"]), finish=st.booleans())
    def sell(self, c: int, lines: list[LineInput], discount: str, finish: bool) -> None:
        """A whole sale by the customer's owner: quote to signed contract, stopping at the
        first refusal; with ``finish``, delivered in full and completed as well."""
        crm, customer_id = self.world.crm, self.customers[c]
        who = self.owner_of(customer_id)
        quote = self.attempt("sell: draft", crm.quotes.draft, who, customer_id, "CNY", lines,
                             discount_rate=Decimal(discount))  # fmt: skip
        if quote is None:
            return
        self.quotes.append(quote.id)
        if self.attempt("sell: send", crm.quotes.send, who, quote.id) is None:  # discounted
            crm.quotes.submit(who, quote.id)
            crm.quotes.approve(MANAGER, quote.id, "同意")
            crm.quotes.send(who, quote.id)
        crm.quotes.accept(who, quote.id)
        contract = crm.contracts.from_quote(who, quote.id, plan=PLAN)
        self.contracts.append(contract.id)
        crm.contracts.submit(who, contract.id)
        crm.contracts.approve(MANAGER, contract.id, "同意")
        signed = crm.contracts.sign(who, contract.id)
        if finish:
            deliver_in_full(crm, who, signed, self.world.clock.now().date())
            assert crm.contracts.complete(who, contract.id).status.value == "completed"

    @rule(data=st.data())
    def push_deal(self, data: st.DataObject) -> None:
        picked = self.pick(data, self.deals)
        if picked is not None:
            deal = next(d for d in self.all(Opportunity) if d.id == picked)
            who = {REP1.rep_id: REP1, REP2.rep_id: REP2}.get(deal.owner_id, ADMIN)
            pipeline = self.world.crm.pipeline
            step = "win" if deal.stage == "signing" else "advance"
            self.attempt(f"push deal: {step}", getattr(pipeline, step), who, picked)

    @rule(data=st.data())
    def push_quote(self, data: st.DataObject) -> None:
        picked = self.pick(data, self.quotes)
        if picked is None:
            return
        quote = next(q for q in self.all(Quote) if q.id == picked)
        who, quotes = self.owner_of(quote.customer_id), self.world.crm.quotes
        status = quote.status
        if status is QuoteStatus.DRAFT:
            if self.attempt("push quote: send", quotes.send, who, picked) is None:
                self.attempt("push quote: submit", quotes.submit, who, picked)
        elif status is QuoteStatus.PENDING_APPROVAL:
            self.attempt("push quote: approve", quotes.approve, MANAGER, picked, "同意")
        elif status is QuoteStatus.APPROVED:
            self.attempt("push quote: send", quotes.send, who, picked)
        elif status is QuoteStatus.SENT:
            self.attempt("push quote: accept", quotes.accept, who, picked)
        elif status is QuoteStatus.ACCEPTED:
            contracts = self.world.crm.contracts
            made = self.attempt(
                "push quote: contract", contracts.from_quote, who, picked, plan=PLAN
            )
            if made is not None:
                self.contracts.append(made.id)

    @rule(data=st.data())
    def push_contract(self, data: st.DataObject) -> None:
        picked = self.pick(data, self.contracts)
        if picked is None:
            return
        contract = next(c for c in self.all(Contract) if c.id == picked)
        who, contracts = self.owner_of(contract.customer_id), self.world.crm.contracts
        status = contract.status.value
        if status == "draft":
            self.attempt("push contract: submit", contracts.submit, who, picked)
        elif status == "pending_approval":
            self.attempt("push contract: approve", contracts.approve, MANAGER, picked, "同意")
        elif status == "approved":
            self.attempt("push contract: sign", contracts.sign, who, picked)
        elif status == "active":  # delivered in full, then completed
            today = self.world.clock.now().date()
            if self.attempt("push contract: deliver", deliver_in_full, self.world.crm, who,
                            contract, today) is not None:  # fmt: skip
                self.attempt("push contract: complete", contracts.complete, who, picked)

    # -- the customers move -----------------------------------------------------------------------
    @rule(c=WHICH, to=st.sampled_from([REP1, REP2]))
    def transfer(self, c: int, to: Any) -> None:
        crm = self.world.crm
        self.attempt("transfer", crm.pools.transfer, MANAGER, self.customers[c], to.rep_id, "换人")

    @rule(rarely=st.integers(0, 5))
    def merge(self, rarely: int) -> None:
        if not rarely:
            crm = self.world.crm
            self.attempt("merge", crm.collisions.merge, ADMIN, *self.customers, "同一家公司")

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def indexes_are_exact(self) -> None:
        for cls in (Quote, Contract, Opportunity, Customer):
            assert_indexes_exact(self.world.crm, cls)

    @invariant()
    def customer_facts_follow_the_deals_and_contracts(self) -> None:
        deals: list[Opportunity] = [d for d in self.all(Opportunity) if d.deleted is None]
        contracts: list[Contract] = self.all(Contract)
        archived = set()
        for customer in self.all(Customer):
            if customer.merged_into is not None:
                archived.add(customer.id)
                continue
            mine = [d for d in deals if d.customer_id == customer.id]
            assert customer.won == any(d.stage == "won" for d in mine), customer.id
            open_deal = any(d.stage not in ("won", "lost") for d in mine)
            assert (customer.open_opportunity_stage is not None) == open_deal, customer.id
            running = any(
                c.customer_id == customer.id and c.status.value == "active" for c in contracts
            )
            assert customer.has_active_contract == running, customer.id
        documents: list[Opportunity | Contract | Quote] = [*deals, *contracts, *self.all(Quote)]
        assert not {d.customer_id for d in documents} & archived, "a document names an archive"

    @invariant()
    def a_quote_has_one_contract_that_matches_it(self) -> None:
        quotes = {q.id: q for q in self.all(Quote)}
        for contract in self.all(Contract):
            if contract.quote_id is None:
                continue
            quote = quotes[contract.quote_id]
            assert contract.id == f"contract-of-{quote.id}"
            assert quote.status is QuoteStatus.ACCEPTED, quote.id
            assert contract.customer_id == quote.customer_id
            assert contract.total == quote.total, contract.id


TestDealToContract = DealToContract.TestCase
TestDealToContract.settings = settings(
    max_examples=max(10, settings().max_examples // 2), stateful_step_count=50, deadline=None
)
