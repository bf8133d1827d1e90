"""Quotes: pricing exact to the fen, approval above a threshold, lifecycle and refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import pytest

from contract_fixtures import (
    ALICE_AS_MANAGER,
    AUTHOR,
    CUSTOMER,
    FINANCE,
    MANAGER,
    NOW,
    PRODUCTS,
    simple_quote,
)
from leadtocash.contracts import (
    LineInput,
    ProductId,
    QuoteId,
    QuotePolicy,
    QuoteStatus,
    accept_quote,
    approve_quote,
    decline_quote,
    draft_quote,
    edit_quote,
    expire_quote,
    is_quote_expired,
    needs_approval,
    quote_expires_at,
    reject_quote,
    revise_quote,
    send_quote,
    submit_quote,
    tax_of,
)
from leadtocash.errors import InvalidTransition, RuleViolation, ValidationError
from leadtocash.money import Money

POLICY = QuotePolicy(discount_threshold=Decimal("0.10"))


def test_product_lines_take_list_price_and_rate_unless_overridden() -> None:
    quote = draft_quote(
        QuoteId("q"),
        CUSTOMER,
        AUTHOR,
        "CNY",
        [
            LineInput(Decimal(1), ProductId("p-server")),
            LineInput(Decimal(1), ProductId("p-install"), unit_price=Money("450", "CNY")),
            LineInput(
                Decimal("2.5"),
                description="定制开发",
                unit_price=Money("100", "CNY"),
                tax_rate=Decimal("0.06"),
            ),
        ],
        PRODUCTS,
        NOW,
    )
    first, second, free = quote.lines
    assert (first.unit_price, first.tax_rate, first.unit) == (
        Money("1999.00", "CNY"),
        Decimal("0.13"),
        "台",
    )
    assert (second.unit_price, second.tax_rate) == (Money("450", "CNY"), Decimal("0.06"))
    assert free.product_id is None and free.description == "定制开发"
    assert quote.valid_until == date(2024, 3, 31)  # 30 days from 2024-03-01 in Shanghai
    assert quote.revision == 1 and quote.status is QuoteStatus.DRAFT


def test_inclusive_and_exclusive_tax() -> None:
    # inclusive: 113.00 at 13% → tax = 113 − 113/1.13 = 13.00, net 100.00
    assert tax_of(Money("113.00", "CNY"), Decimal("0.13"), inclusive=True) == Money("13", "CNY")
    # exclusive: 100.05 × 0.13 = 13.0065 → 13.01
    assert tax_of(Money("100.05", "CNY"), Decimal("0.13"), inclusive=False) == Money("13.01", "CNY")
    exclusive = attrs.evolve(simple_quote(), tax_inclusive=False)
    price = exclusive.price
    # net 2×1999 + 500 = 4498.00; tax 3998×0.13 = 519.74 and 500×0.06 = 30.00
    assert price.net == Money("4498.00", "CNY")
    assert price.tax == Money("549.74", "CNY")
    assert price.total == Money("5047.74", "CNY")


def test_quote_discount_is_split_by_largest_remainder_and_lines_sum_to_the_total() -> None:
    quote = simple_quote(quote_discount=Decimal("0.0333"))
    price = quote.price
    # subtotal 4498.00 × 0.0333 = 149.7834 → 149.78, shared 3998 : 500
    # 149.78 × 3998/4498 = 133.1311… → 133.13 ; 149.78 × 500/4498 = 16.6498… → 16.65 (remainder)
    assert [line.quote_discount for line in price.lines] == [
        Money("133.13", "CNY"),
        Money("16.65", "CNY"),
    ]
    assert price.discount == Money("149.78", "CNY")
    assert price.total == Money("4348.22", "CNY")
    assert sum(line.total.minor_units for line in price.lines) == price.total.minor_units
    assert price.net + price.tax == price.total


def test_approval_is_needed_above_the_threshold_and_never_by_the_author() -> None:
    cheap = simple_quote(quote_discount=Decimal("0.05"))
    assert not needs_approval(cheap, POLICY)
    assert send_quote(cheap, POLICY, NOW, AUTHOR).status is QuoteStatus.SENT

    quote = simple_quote(line_discount=Decimal("0.10"), quote_discount=Decimal("0.05"))
    assert needs_approval(quote, POLICY)
    with pytest.raises(RuleViolation) as caught:
        send_quote(quote, POLICY, NOW, AUTHOR)
    assert caught.value.code == "quote.approval_required"
    assert quote.status is QuoteStatus.DRAFT

    pending = submit_quote(quote, NOW, AUTHOR)
    before = pending
    with pytest.raises(RuleViolation) as caught:
        approve_quote(pending, POLICY, ALICE_AS_MANAGER, "ok", NOW)
    assert caught.value.code == "quote.self_approval"
    with pytest.raises(RuleViolation) as caught:
        approve_quote(pending, POLICY, FINANCE, "ok", NOW)
    assert caught.value.code == "contracts.approver_role"
    with pytest.raises(ValidationError):
        approve_quote(pending, POLICY, MANAGER, "  ", NOW)
    assert pending == before

    approved = approve_quote(pending, POLICY, MANAGER, "strategic account", NOW)
    assert approved.approval is not None and approved.approval.approver_id == "mary"
    assert approved.approval.reason == "strategic account"
    sent = send_quote(approved, POLICY, NOW, AUTHOR)
    accepted = accept_quote(sent, NOW, "customer")
    assert accepted.status is QuoteStatus.ACCEPTED
    assert [h.trigger for h in accepted.history] == [
        "create",
        "submit",
        "approve",
        "send",
        "accept",
    ]


def test_a_declined_quote_returns_to_draft_and_can_be_edited() -> None:
    pending = submit_quote(simple_quote(quote_discount=Decimal("0.2")), NOW, AUTHOR)
    with pytest.raises(RuleViolation) as caught:
        edit_quote(pending, NOW, discount_rate=Decimal("0.05"))
    assert caught.value.code == "quote.not_editable"
    draft = decline_quote(pending, POLICY, MANAGER, "too deep", NOW)
    assert draft.status is QuoteStatus.DRAFT and draft.reason == "too deep"
    edited = edit_quote(draft, NOW, discount_rate=Decimal("0.05"))
    assert not needs_approval(edited, POLICY)


def test_unknown_or_inactive_products_are_refused() -> None:
    with pytest.raises(RuleViolation) as caught:
        draft_quote(
            QuoteId("q"), CUSTOMER, AUTHOR, "CNY", [LineInput(Decimal(1), ProductId("nope"))],
            PRODUCTS, NOW,
        )  # fmt: skip
    assert caught.value.code == "quote.unknown_product"
    assert caught.value.details == {"line": 0, "product_id": "nope"}
    inactive = {k: attrs.evolve(p, active=False) for k, p in PRODUCTS.items()}
    with pytest.raises(RuleViolation):
        draft_quote(
            QuoteId("q"), CUSTOMER, AUTHOR, "CNY", [LineInput(Decimal(1), ProductId("p-cable"))],
            inactive, NOW,
        )  # fmt: skip


def test_wrong_currency_floats_and_bad_numbers_are_refused() -> None:
    with pytest.raises(RuleViolation) as caught:
        draft_quote(
            QuoteId("q"), CUSTOMER, AUTHOR, "USD", [LineInput(Decimal(1), ProductId("p-cable"))],
            PRODUCTS, NOW,
        )  # fmt: skip
    assert caught.value.code == "contracts.currency_mismatch"
    for bad in (
        LineInput(Decimal(0), ProductId("p-cable")),
        LineInput(1.5, ProductId("p-cable")),  # type: ignore[arg-type]
        LineInput(Decimal(1), ProductId("p-cable"), discount_rate=Decimal("1.5")),
        LineInput(Decimal(1), description="free line without a price"),
    ):
        with pytest.raises(ValidationError):
            draft_quote(QuoteId("q"), CUSTOMER, AUTHOR, "CNY", [bad], PRODUCTS, NOW)
    with pytest.raises(ValidationError) as empty:
        draft_quote(QuoteId("q"), CUSTOMER, AUTHOR, "CNY", [], PRODUCTS, NOW)
    assert empty.value.errors[0].code == "quote.no_lines"


def test_expiry_is_derived_from_now_in_the_organisations_time_zone() -> None:
    quote = simple_quote(valid_until=date(2024, 3, 31))
    # valid through 31 March in Shanghai: expires at 2024-03-31T16:00Z
    assert quote_expires_at(quote) == datetime(2024, 3, 31, 16, 0, tzinfo=UTC)
    late = datetime(2024, 3, 31, 16, 0, tzinfo=UTC)
    assert not is_quote_expired(quote, datetime(2024, 3, 31, 15, 59, tzinfo=UTC))
    assert is_quote_expired(quote, late)
    with pytest.raises(RuleViolation) as caught:
        send_quote(quote, POLICY, late, AUTHOR)
    assert caught.value.code == "quote.expired"
    sent = send_quote(quote, POLICY, NOW, AUTHOR)
    with pytest.raises(RuleViolation) as caught:
        accept_quote(sent, late, "customer")
    assert caught.value.code == "quote.expired"
    with pytest.raises(RuleViolation) as caught:
        expire_quote(sent, NOW)
    assert caught.value.code == "quote.not_expired"
    assert expire_quote(sent, late).status is QuoteStatus.EXPIRED


def test_revisions_supersede_the_previous_one() -> None:
    sent = send_quote(simple_quote(), POLICY, NOW, AUTHOR)
    old, new = revise_quote(sent, QuoteId("q-2"), NOW, AUTHOR, discount_rate=Decimal("0.02"))
    assert old.status is QuoteStatus.SUPERSEDED
    assert (new.revision, new.previous_id, new.status) == (2, "q-1", QuoteStatus.DRAFT)
    assert new.lines == sent.lines and new.discount_rate == Decimal("0.02")
    with pytest.raises(InvalidTransition):
        accept_quote(old, NOW, "customer")
    rejected = reject_quote(send_quote(new, POLICY, NOW, AUTHOR), "price", NOW, "customer")
    assert rejected.status is QuoteStatus.REJECTED and rejected.reason == "price"
    with pytest.raises(InvalidTransition):
        revise_quote(accept_quote(send_quote(new, POLICY, NOW, AUTHOR), NOW, "c"), QuoteId("x"),
                     NOW, AUTHOR)  # fmt: skip
