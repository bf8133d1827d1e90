"""The customer write path's shortcuts give what the plain computation gives.

Each shortcut skips work whose result is known from its inputs; these properties compare the
shortcut with the plain computation on random inputs, so a shortcut that changed behaviour
fails here.
"""

from __future__ import annotations

from datetime import datetime

import attrs
from hypothesis import given
from hypothesis import strategies as st

from leadtocash.classification import TierRules, classify
from leadtocash.classification.facts import facts_of
from leadtocash.model import Customer, RepId
from leadtocash.pool.book import RepBook, book_place
from leadtocash.settings import OrganisationSettings
from leadtocash.testing.strategies import customers, deletions, rep_books, utc_datetimes

REQUIRED = OrganisationSettings().required_fields.entities.get("customer")

REPS = st.sampled_from([RepId("rep1"), RepId("rep2")])


@st.composite
def book_moves(draw: st.DrawFn) -> tuple[Customer, Customer]:
    """A customer before and after a change of owner, won, locked or deletion (or none)."""
    before = draw(customers())
    before = attrs.evolve(before, owner_id=draw(st.none() | REPS), won=draw(st.booleans()))
    after = attrs.evolve(
        before,
        owner_id=draw(st.sampled_from([before.owner_id, None, RepId("rep1"), RepId("rep2")])),
        won=draw(st.sampled_from([before.won, not before.won])),
        locked=draw(st.sampled_from([before.locked, not before.locked])),
        deleted=draw(st.sampled_from([before.deleted, None]) | deletions()),
    )
    return before, after


def plain_rebook(
    books: dict[RepId, RepBook], before: Customer | None, after: Customer
) -> dict[RepId, RepBook]:
    """The books after the change, every affected book adjusted (no shortcut)."""
    out = dict(books)
    if before is not None and before.owner_id is not None and before.deleted is None:
        out[before.owner_id] = out[before.owner_id].adjust(before, -1)
    if after.owner_id is not None and after.deleted is None:
        out[after.owner_id] = out[after.owner_id].adjust(after, +1)
    return out


@given(book_moves(), rep_books(), rep_books())
def test_a_change_keeping_the_book_place_keeps_every_book(
    move: tuple[Customer, Customer], one: RepBook, two: RepBook
) -> None:
    before, after = move
    rep1, rep2 = RepId("rep1"), RepId("rep2")
    books = {rep1: attrs.evolve(one, id=rep1), rep2: attrs.evolve(two, id=rep2)}
    rebooked = plain_rebook(books, before, after)
    if book_place(before) == book_place(after):
        assert rebooked == books
    else:
        assert rebooked != books


@given(customers())
def test_a_new_customer_moves_books_only_when_it_has_an_owner(customer: Customer) -> None:
    counted = customer.owner_id is not None and customer.deleted is None
    assert (book_place(None) != book_place(customer)) is counted


@given(customers(), utc_datetimes())
def test_the_next_tier_is_explained_as_checking_every_rule_would(
    customer: Customer, now: datetime
) -> None:
    rules = TierRules()
    found = classify(customer, customer.signals, rules, now, requirements=REQUIRED)
    facts = facts_of(customer, customer.signals, now, timezone="Asia/Shanghai")
    assert found.tier is rules.first_match(facts).tier
    every = [(r, tuple(c for c in r.check(facts) if not c.met)) for r in rules.rules]
    candidates = [(r, unmet) for r, unmet in every if r.tier is found.next_tier]
    if candidates:
        assert (found.next_rule, found.missing) == min(candidates, key=lambda p: len(p[1]))
    else:
        assert (found.next_rule, found.missing) == (None, ())
