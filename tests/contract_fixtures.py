"""Shared builders for the contract-to-cash tests: products, principals, a clock value."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from leadtocash.access import Principal, Role
from leadtocash.contracts import LineInput, Product, ProductId, Quote, QuoteId, draft_quote
from leadtocash.model import CustomerId, RepId
from leadtocash.money import Money

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
