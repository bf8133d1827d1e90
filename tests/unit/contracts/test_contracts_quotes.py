"""Quotes: pricing exact to the fen, approval above a threshold, lifecycle and refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    price_lines,
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


# -- pricing pinned formula by formula (mutation testing, docs/mutation.md) --------------------


@attrs.frozen
class _Line:
    """The least a line needs to be priced (pricing reads it through ``PriceableLine``)."""

    quantity: Decimal
    unit_price: Money
    tax_rate: Decimal = Decimal(0)
    discount_rate: Decimal = Decimal(0)


def _half_even(value: Fraction) -> int:
    """``value`` (in fen) rounded half-even to a whole fen."""
    floor = value.numerator // value.denominator
    rest = value - floor
    return floor + (rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1))


_lines = st.lists(
    st.builds(
        _Line,
        st.integers(1, 50_000).map(lambda n: Decimal(n).scaleb(-2)),  # 0.01 … 500.00 units
        st.integers(0, 2_000_000).map(lambda f: Money.from_minor_units(f, "CNY")),
        st.sampled_from([Decimal("0.13"), Decimal("0.09"), Decimal("0.06"), Decimal(0)]),
        st.integers(0, 400).map(lambda n: Decimal(n).scaleb(-3)),
    ),
    min_size=1,
    max_size=6,
)


@given(_lines, st.integers(0, 400).map(lambda n: Decimal(n).scaleb(-3)), st.booleans())
def test_every_figure_follows_the_documented_formula_to_the_fen(
    lines: list[_Line], discount: Decimal, inclusive: bool
) -> None:
    price = price_lines(lines, "CNY", tax_inclusive=inclusive, discount_rate=discount)
    gross = [_half_even(Fraction(ln.quantity) * ln.unit_price.minor_units) for ln in lines]
    rates = [Fraction(ln.discount_rate) for ln in lines]
    line_discounts = [_half_even(g * r) for g, r in zip(gross, rates, strict=True)]
    after = [g - d for g, d in zip(gross, line_discounts, strict=True)]
    quote_discount = _half_even(sum(after) * Fraction(discount))
    # the share of each line is Money.split's largest remainder over the discounted amounts
    shares = (
        [m.minor_units for m in Money.from_minor_units(quote_discount, "CNY").split(after)]
        if quote_discount
        else [0] * len(lines)
    )
    assert sum(shares) == quote_discount
    for ln, p, g, d, a, share in zip(
        lines, price.lines, gross, line_discounts, after, shares, strict=True
    ):
        amount, rate = a - share, Fraction(ln.tax_rate)
        if inclusive:  # 含税: tax = total − total / (1 + rate)
            tax = _half_even(amount - amount / (1 + rate))
            net, total = amount - tax, amount
        else:  # tax = net × rate
            tax = _half_even(amount * rate)
            net, total = amount, amount + tax
        figures = (p.gross, p.line_discount, p.quote_discount, p.net, p.tax, p.total)
        assert [m.minor_units for m in figures] == [g, d, share, net, tax, total]
        assert p.discount.minor_units == d + share
    assert price.gross.minor_units == sum(gross)
    assert price.discount.minor_units == sum(line_discounts) + quote_discount
    assert price.net.minor_units == sum(p.net.minor_units for p in price.lines)
    assert price.tax.minor_units == sum(p.tax.minor_units for p in price.lines)
    assert price.total.minor_units == sum(p.total.minor_units for p in price.lines)
    expected = Decimal(0) if not sum(gross) else price.discount.amount / price.gross.amount
    assert price.effective_discount == expected


def test_tax_formulas_at_their_boundaries() -> None:
    # inclusive 1.13 at 13%: 1.13 − 1.13/1.13 = 0.13 exactly; exclusive 1.00 × 13% = 0.13
    assert tax_of(Money("1.13", "CNY"), Decimal("0.13"), inclusive=True) == Money("0.13", "CNY")
    assert tax_of(Money("1.00", "CNY"), Decimal("0.13"), inclusive=False) == Money("0.13", "CNY")
    # half-even on the fen: 0.50 × 9% = 0.045 → 0.04 (4 is even); 1.50 × 9% = 0.135 → 0.14
    assert tax_of(Money("0.50", "CNY"), Decimal("0.09"), inclusive=False) == Money("0.04", "CNY")
    assert tax_of(Money("1.50", "CNY"), Decimal("0.09"), inclusive=False) == Money("0.14", "CNY")
    # a zero rate taxes nothing either way; the currency is the amount's
    for inclusive in (True, False):
        assert tax_of(Money("99", "USD"), Decimal(0), inclusive=inclusive) == Money("0", "USD")


def test_price_lines_defaults_are_tax_inclusive_and_no_quote_discount() -> None:
    lines = [_Line(Decimal(1), Money("113.00", "CNY"), Decimal("0.13"))]
    price = price_lines(lines, "CNY")
    assert price == price_lines(lines, "CNY", tax_inclusive=True, discount_rate=Decimal(0))
    assert (price.total, price.tax, price.net) == (
        Money("113.00", "CNY"),
        Money("13.00", "CNY"),
        Money("100.00", "CNY"),
    )
    assert price.discount == Money("0", "CNY") and price.effective_discount == 0


def test_free_lines_and_empty_quotes_price_to_zero() -> None:
    # nothing to discount: no split over zero weights, every figure zero
    free = [_Line(Decimal(2), Money("0", "CNY")), _Line(Decimal(1), Money("0", "CNY"))]
    price = price_lines(free, "CNY", discount_rate=Decimal("0.5"))
    assert all(m == Money("0", "CNY") for m in (price.gross, price.discount, price.total))
    assert [p.quote_discount for p in price.lines] == [Money("0", "CNY")] * 2
    assert price.effective_discount == Decimal(0)
    empty = price_lines([], "CNY", discount_rate=Decimal("0.5"))
    assert (empty.lines, empty.total, empty.tax) == ((), Money("0", "CNY"), Money("0", "CNY"))


def test_quote_discount_shares_tie_to_the_earlier_line() -> None:
    # 3 equal lines of 1.00, 1% of 3.00 = 0.03 → 1 fen each; 2% of 1.50 = 0.03 on 0.50 × 3
    # → split 3 fen over 50:50:50 exactly. 0.01 over three equal lines: the first line gets it
    lines = [_Line(Decimal(1), Money("0.50", "CNY")) for _ in range(3)]
    price = price_lines(lines, "CNY", discount_rate=Decimal("0.02"))  # 1.50 × 2% = 0.03
    assert [p.quote_discount.minor_units for p in price.lines] == [1, 1, 1]
    price = price_lines(lines, "CNY", discount_rate=Decimal("0.01"))  # 0.015 → 0.02 (half-even)
    assert [p.quote_discount.minor_units for p in price.lines] == [1, 1, 0]
    # shares follow the amounts after the line discounts (not the gross)
    lines = [
        _Line(Decimal(1), Money("100.00", "CNY"), discount_rate=Decimal("0.5")),  # 50.00 left
        _Line(Decimal(1), Money("50.00", "CNY")),  # 50.00
    ]
    price = price_lines(lines, "CNY", discount_rate=Decimal("0.1"))  # 10.00, 5.00 each
    assert [p.quote_discount for p in price.lines] == [Money("5.00", "CNY")] * 2


def test_a_line_in_another_currency_is_refused_with_its_index() -> None:
    lines = [_Line(Decimal(1), Money("1", "CNY")), _Line(Decimal(1), Money("1", "USD"))]
    with pytest.raises(RuleViolation) as caught:
        price_lines(lines, "CNY")
    assert caught.value.code == "contracts.currency_mismatch"
    assert caught.value.details == {
        "what": "lines[1].unit_price",
        "expected": "CNY",
        "found": "USD",
        "line": 1,
    }
