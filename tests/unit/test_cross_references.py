"""A record names only records of its own customer: a deal's contact, a quote's deal.

Each of these was accepted before (found by probing the commands with another customer's
ids): a deal of customer A could name B's contact, which also satisfied the quotation stage's
"a contact is required" guard; a quote of A could name B's deal, or a deal that does not
exist. Each is refused now, typed and coded, and changes nothing (the session-wide refusal
guard checks that).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from contract_fixtures import cash_world
from leadtocash import LeadToCashError, Money, NotFound
from leadtocash.contracts import LineInput, ProductId
from leadtocash.model import Contact, ContactId, CustomerId
from pool_fixtures import ADMIN, World

ONE = Money(1, "CNY")
LINES = [LineInput(Decimal(1), ProductId("SRV-1"))]


def _world() -> tuple[World, CustomerId, CustomerId]:
    world, a, b = cash_world(customers=2)
    with world.crm.unit_of_work() as uow:
        uow.contacts.add(Contact(ContactId("ka"), a, "甲联系人"))
        uow.contacts.add(Contact(ContactId("kb"), b, "乙联系人"))
        uow.commit()
    return world, a, b


def _refused(code: str, call: object, *args: object, **kwargs: object) -> LeadToCashError:
    with pytest.raises(LeadToCashError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    assert caught.value.code == code, caught.value
    return caught.value


def test_a_deal_names_only_a_contact_of_its_customer() -> None:
    world, a, _ = _world()
    crm, close = world.crm, world.clock.now().date() + timedelta(days=30)
    error = _refused(
        "pipeline.contact_mismatch", crm.pipeline.create_opportunity, ADMIN, a,
        name="ERP", amount=ONE, close_date=close, contact_id=ContactId("kb"),
    )  # fmt: skip
    assert error.details == {"contact_id": "kb", "customer_id": a}
    with pytest.raises(NotFound):
        crm.pipeline.create_opportunity(
            ADMIN, a, name="ERP", amount=ONE, close_date=close, contact_id=ContactId("nobody")
        )
    deal = crm.pipeline.create_opportunity(
        ADMIN, a, name="ERP", amount=ONE, close_date=close, contact_id=ContactId("ka")
    )
    _refused("pipeline.contact_mismatch", crm.pipeline.edit, ADMIN, deal.id, contact_id="kb")
    assert crm.pipeline.edit(ADMIN, deal.id, contact_id=ContactId("ka")).contact_id == "ka"


def test_a_quote_names_only_a_deal_of_its_customer() -> None:
    world, a, b = _world()
    crm, close = world.crm, world.clock.now().date() + timedelta(days=30)
    theirs = crm.pipeline.create_opportunity(ADMIN, b, name="B", amount=ONE, close_date=close)
    error = _refused(
        "quote.opportunity_mismatch", crm.quotes.draft, ADMIN, a, "CNY", LINES,
        opportunity_id=theirs.id,
    )  # fmt: skip
    assert error.details == {"opportunity_id": theirs.id, "customer_id": a}
    with pytest.raises(NotFound):
        crm.quotes.draft(ADMIN, a, "CNY", LINES, opportunity_id="no-such-deal")
    mine = crm.pipeline.create_opportunity(ADMIN, a, name="A", amount=ONE, close_date=close)
    assert crm.quotes.draft(ADMIN, a, "CNY", LINES, opportunity_id=mine.id).opportunity_id == (
        mine.id
    )
