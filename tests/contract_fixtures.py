"""Shared builders for the contract-to-cash tests: products, principals, a clock value."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from leadtocash import LeadToCash
from leadtocash.access import Principal, Role
from leadtocash.app import CashPolicies
from leadtocash.contracts import (
    Contract,
    LineInput,
    MilestoneBasis,
    MilestoneSpec,
    Product,
    ProductId,
    Quote,
    QuoteId,
    delivered_quantities,
    draft_quote,
    effective_lines,
)
from leadtocash.model import CustomerId, RepId
from leadtocash.money import Money
from leadtocash.testing import InMemoryStore
from pool_fixtures import ADMIN as POOL_ADMIN
from pool_fixtures import MANAGER as POOL_MANAGER
from pool_fixtures import World, make_world, rep_principal

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, 2024-03-01
CUSTOMER = CustomerId("cust-1")
AUTHOR = "alice"  # the rep's user id
REP = RepId("rep-alice")
MANAGER = Principal("mary", roles=frozenset({Role.ZONE_MANAGER}))
FINANCE = Principal("fred", roles=frozenset({Role.FINANCE}))
ALICE_AS_MANAGER = Principal(AUTHOR, roles=frozenset({Role.ZONE_MANAGER}), rep_id=REP)

PRODUCTS: dict[ProductId, Product] = {
    ProductId("p-server"): Product(
        ProductId("p-server"), "SRV-1", "服务器", "台", Money("1999.00", "CNY"), Decimal("0.13")
    ),
    ProductId("p-install"): Product(
        ProductId("p-install"),
        "SVC-INST",
        "安装服务",
        "次",
        Money("500.00", "CNY"),
        Decimal("0.06"),
    ),
    ProductId("p-cable"): Product(
        ProductId("p-cable"), "CBL", "线缆", "米", Money("3.30", "CNY"), Decimal("0.13")
    ),
}


def simple_quote(
    quote_id: str = "q-1",
    *,
    line_discount: Decimal = Decimal(0),
    quote_discount: Decimal = Decimal(0),
    valid_until: date = date(2024, 3, 31),
) -> Quote:
    """A two-line CNY quote by AUTHOR for CUSTOMER."""
    return draft_quote(
        QuoteId(quote_id),
        CUSTOMER,
        AUTHOR,
        "CNY",
        [
            LineInput(Decimal(2), ProductId("p-server"), discount_rate=line_discount),
            LineInput(Decimal(1), ProductId("p-install")),
        ],
        PRODUCTS,
        NOW,
        valid_until=valid_until,
        owner_id=REP,
        discount_rate=quote_discount,
    )


def accepted_quote(quote_id: str = "q-1") -> Quote:
    """``simple_quote`` sent and accepted (total 4498.00 CNY: 2 × 1999.00 + 500.00)."""
    from leadtocash.contracts import QuotePolicy, accept_quote, send_quote

    sent = send_quote(simple_quote(quote_id), QuotePolicy(), NOW, AUTHOR)
    return accept_quote(sent, NOW, "customer")


# -- through the facade (the application layer) ---------------------------------------------
def cash_world(
    customers: int = 2, *, cash: CashPolicies | None = None, store: InMemoryStore | None = None
) -> tuple[World, CustomerId, CustomerId]:
    """A pool world whose customer 0 is owned by rep1 and customer 1 by rep2, with products.

    Returns ``(world, customer0, customer1)``; ``cash`` replaces the facade's contract-to-cash
    policies (same store, clock and ids).
    """
    world = make_world(customers=customers, store=store)
    if cash is not None:
        world.crm = LeadToCash(world.store, world.clock, world.crm.ctx.ids, cash=cash)
    first = world.customers[0]
    world.crm.pools.claim(rep_principal(1), first)
    second = world.customers[1] if customers > 1 else first
    if customers > 1:
        world.crm.pools.claim(rep_principal(2), second)
    add_products(world.crm)
    return world, first, second


def add_products(crm: LeadToCash) -> None:
    """Put :data:`PRODUCTS` (a server and its installation) on the price list."""
    for product in PRODUCTS.values():
        crm.products.create_product(
            POOL_ADMIN, product.code, product.name, product.unit, product.list_price,
            product.tax_rate,
        )  # fmt: skip


def signed_contract(world: World, customer_id: str, rep: int = 1) -> Contract:
    """A quote (2 servers + installation: 4498.00 CNY) accepted, its contract signed.

    The plan: 30% due in 10 days, 70% 30 days after full delivery acceptance.
    """
    crm, who = world.crm, rep_principal(rep)
    today = world.clock.now().date()
    quote = crm.quotes.draft(
        who, customer_id, "CNY",
        [LineInput(Decimal(2), ProductId("SRV-1")), LineInput(Decimal(1), ProductId("SVC-INST"))],
        valid_until=today + timedelta(days=30),
    )  # fmt: skip
    crm.quotes.send(who, quote.id)
    crm.quotes.accept(who, quote.id)
    plan = [
        MilestoneSpec("预付款", percent=Decimal(30), due_date=today + timedelta(days=10)),
        MilestoneSpec("验收款", percent=Decimal(70), basis=MilestoneBasis.FULL_DELIVERY,
                      days_after_delivery=30),
    ]  # fmt: skip
    contract = crm.contracts.from_quote(who, quote.id, plan=plan)
    crm.contracts.submit(who, contract.id)
    crm.contracts.approve(POOL_MANAGER, contract.id, "ok")
    return crm.contracts.sign(who, contract.id)


def deliver_in_full(crm: LeadToCash, who: Principal, contract: Contract, on: date) -> Contract:
    """``contract`` with what is left of every line in force delivered on ``on`` (so it can
    complete)."""
    done = delivered_quantities(contract)
    left = {
        line.line_no: line.quantity - done.get(line.line_no, Decimal(0))
        for line in effective_lines(contract)
        if line.quantity > done.get(line.line_no, Decimal(0))
    }
    return crm.contracts.record_delivery(who, contract.id, left, on) if left else contract
