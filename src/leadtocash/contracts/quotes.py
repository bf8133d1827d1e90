"""The quote aggregate (报价): revisions, lines, discounts, validity, approval and its lifecycle.

draft → pending_approval → approved → sent → accepted | rejected | expired, with ``decline``
(approval refused: back to draft), ``send`` straight from draft when the discount needs no
approval, and ``supersede`` when a new revision replaces the quote. Lines change only in draft.
Expiry is derived from ``now``: a quote is valid through its ``valid_until`` day in the
organisation's time zone.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

import attrs

from leadtocash.access import Principal, Role
from leadtocash.contracts.approvals import DEFAULT_APPROVER_ROLES, Approval, check_approver
from leadtocash.contracts.checks import (
    DEFAULT_TIMEZONE,
    business_date,
    check_currency,
    currency_mismatch,
    money_non_negative,
    positive_quantity,
    rate,
    start_of_day,
    step,
)
from leadtocash.contracts.ids import ProductId, QuoteId
from leadtocash.contracts.pricing import QuotePrice, price_lines
from leadtocash.contracts.products import Product
from leadtocash.errors import RuleViolation, ValidationError
from leadtocash.model import CustomerId, RepId
from leadtocash.money import Money
from leadtocash.pipeline.machine import Edge, StageChange, StateTable
from leadtocash.pipeline.opportunity import OpportunityId
from leadtocash.validators import MAX_DAYS, non_blank, utc

__all__ = [
    "QUOTE_TABLE",
    "LineInput",
    "Quote",
    "QuoteLine",
    "QuotePolicy",
    "QuoteStatus",
    "accept_quote",
    "approve_quote",
    "decline_quote",
    "draft_quote",
    "edit_quote",
    "expire_quote",
    "is_quote_expired",
    "needs_approval",
    "quote_expires_at",
    "reject_quote",
    "resolve_lines",
    "revise_quote",
    "send_quote",
    "submit_quote",
]


class QuoteStatus(enum.StrEnum):
    """Quote lifecycle states."""

    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


_D, _P, _A, _S = "draft", "pending_approval", "approved", "sent"
#: The one shared state table of quotes.
QUOTE_TABLE = StateTable(
    "quote",
    [s.value for s in QuoteStatus],
    [
        Edge("submit", _D, _P),
        Edge("approve", _P, _A),
        Edge("decline", _P, _D),
        Edge("send", _D, _S),
        Edge("send", _A, _S),
        Edge("accept", _S, "accepted"),
        Edge("reject", _S, "rejected"),
        *(Edge("expire", s, "expired") for s in (_D, _P, _A, _S)),
        *(Edge("supersede", s, "superseded") for s in (_D, _P, _A, _S, "rejected", "expired")),
    ],
    initial=_D,
)


def _roles(value: Iterable[Role | str]) -> frozenset[Role]:
    return frozenset(Role(r) for r in value)


@attrs.frozen
class QuotePolicy:
    """When a quote needs approval (effective discount above ``discount_threshold``) and by whom."""

    discount_threshold: Decimal = attrs.field(default=Decimal("0.10"), validator=rate)
    approver_roles: frozenset[Role] = attrs.field(default=DEFAULT_APPROVER_ROLES, converter=_roles)


@attrs.frozen
class QuoteLine:
    """A priced quote line: a product (price and rate copied when quoted) or a free line."""

    description: str = attrs.field(validator=non_blank)
    quantity: Decimal = attrs.field(validator=positive_quantity)
    unit_price: Money = attrs.field(validator=money_non_negative)
    tax_rate: Decimal = attrs.field(validator=rate)
    discount_rate: Decimal = attrs.field(default=Decimal(0), validator=rate)
    product_id: ProductId | None = None
    unit: str | None = None


@attrs.frozen
class LineInput:
    """A requested line: a product (its list price and rate unless overridden) or a free line."""

    quantity: Decimal
    product_id: ProductId | None = None
    description: str | None = None
    unit_price: Money | None = None
    tax_rate: Decimal | None = None
    discount_rate: Decimal = Decimal(0)
    unit: str | None = None


def _lines(_inst: object, _attr: object, value: tuple[QuoteLine, ...]) -> None:
    if not value:
        raise ValidationError.single("lines", "quote.no_lines", "a quote needs at least one line")


@attrs.frozen
class Quote:
    """A quote to a customer: one revision, its lines, discount, validity and approval."""

    id: QuoteId
    customer_id: CustomerId
    author_id: str = attrs.field(validator=non_blank)
    currency: str = attrs.field(validator=check_currency)
    lines: tuple[QuoteLine, ...] = attrs.field(validator=_lines)
    valid_until: date
    created_at: datetime = attrs.field(validator=utc)
    owner_id: RepId | None = None
    opportunity_id: OpportunityId | None = None
    revision: int = 1
    previous_id: QuoteId | None = None
    tax_inclusive: bool = True
    discount_rate: Decimal = attrs.field(default=Decimal(0), validator=rate)
    status: QuoteStatus = QuoteStatus.DRAFT
    approval: Approval | None = None
    reason: str | None = None
    history: tuple[StageChange, ...] = ()
    updated_at: datetime | None = attrs.field(default=None, validator=utc)
    version: int = 0

    def __attrs_post_init__(self) -> None:
        self.price  # noqa: B018 - checks every line's currency

    @property
    def price(self) -> QuotePrice:
        """Gross, discounts, net, tax and total per line and for the quote (exact)."""
        return price_lines(
            self.lines,
            self.currency,
            tax_inclusive=self.tax_inclusive,
            discount_rate=self.discount_rate,
        )

    @property
    def total(self) -> Money:
        """What the customer pays (tax included)."""
        return self.price.total


def resolve_lines(
    inputs: Sequence[LineInput], products: Mapping[ProductId, Product], currency: str
) -> tuple[QuoteLine, ...]:
    """Quote lines from requests: product lines take the product's price and rate unless given.

    An unknown (or inactive) product is a RuleViolation ``quote.unknown_product``; a list price
    in another currency than the quote's is ``contracts.currency_mismatch``.
    """
    lines = []
    for index, given in enumerate(inputs):
        if given.product_id is None:
            if given.unit_price is None or given.tax_rate is None:
                raise ValidationError.single(
                    f"lines[{index}]", "field.required", "a free line needs a price and a tax rate"
                )
            lines.append(
                QuoteLine(
                    description=given.description or "",
                    quantity=given.quantity,
                    unit_price=given.unit_price,
                    tax_rate=given.tax_rate,
                    discount_rate=given.discount_rate,
                    unit=given.unit,
                )
            )
            continue
        product = products.get(given.product_id)
        if product is None or not product.active:
            raise RuleViolation(
                f"line {index}: no product {given.product_id!r}",
                code="quote.unknown_product",
                details={"line": index, "product_id": given.product_id},
            )
        price = given.unit_price if given.unit_price is not None else product.list_price
        if price.currency != currency:
            raise currency_mismatch(f"lines[{index}].unit_price", currency, price.currency)
        lines.append(
            QuoteLine(
                description=given.description or product.name,
                quantity=given.quantity,
                unit_price=price,
                tax_rate=product.tax_rate if given.tax_rate is None else given.tax_rate,
                discount_rate=given.discount_rate,
                product_id=product.id,
                unit=given.unit or product.unit,
            )
        )
    return tuple(lines)


def draft_quote(
    quote_id: QuoteId,
    customer_id: CustomerId,
    author_id: str,
    currency: str,
    lines: Sequence[LineInput],
    products: Mapping[ProductId, Product],
    now: datetime,
    *,
    valid_until: date | None = None,
    validity_days: int = 30,
    owner_id: RepId | None = None,
    opportunity_id: OpportunityId | None = None,
    tax_inclusive: bool = True,
    discount_rate: Decimal = Decimal(0),
    timezone: str = DEFAULT_TIMEZONE,
) -> Quote:
    """A new draft quote (revision 1); valid ``validity_days`` from today unless ``valid_until``."""
    if valid_until is None and not 0 <= validity_days <= MAX_DAYS:
        raise ValidationError.single("validity_days", "field.out_of_range", f"0 to {MAX_DAYS} days")
    until = valid_until or business_date(now, timezone) + timedelta(days=validity_days)
    return Quote(
        id=quote_id,
        customer_id=customer_id,
        author_id=author_id,
        currency=currency,
        lines=resolve_lines(lines, products, currency),
        valid_until=until,
        created_at=now,
        owner_id=owner_id,
        opportunity_id=opportunity_id,
        tax_inclusive=tax_inclusive,
        discount_rate=discount_rate,
        history=(StageChange(None, QuoteStatus.DRAFT.value, "create", now, author_id),),
    )


def _editable(quote: Quote) -> None:
    if quote.status is not QuoteStatus.DRAFT:
        raise RuleViolation(
            f"quote {quote.id} is {quote.status.value}; only drafts change (or revise it)",
            code="quote.not_editable",
            details={"id": quote.id, "status": quote.status.value},
        )


def edit_quote(
    quote: Quote,
    now: datetime,
    *,
    lines: Sequence[LineInput] | None = None,
    products: Mapping[ProductId, Product] | None = None,
    discount_rate: Decimal | None = None,
    valid_until: date | None = None,
    tax_inclusive: bool | None = None,
) -> Quote:
    """A draft quote with new lines, discount, validity or tax basis (``quote.not_editable``)."""
    _editable(quote)
    changes: dict[str, object] = {"updated_at": now}
    if lines is not None:
        changes["lines"] = resolve_lines(lines, products or {}, quote.currency)
    if discount_rate is not None:
        changes["discount_rate"] = discount_rate
    if valid_until is not None:
        changes["valid_until"] = valid_until
    if tax_inclusive is not None:
        changes["tax_inclusive"] = tax_inclusive
    return attrs.evolve(quote, **changes)  # type: ignore[arg-type]


def needs_approval(quote: Quote, policy: QuotePolicy) -> bool:
    """True when the quote's effective discount exceeds the policy's threshold."""
    return quote.price.effective_discount > policy.discount_threshold


def quote_expires_at(quote: Quote, timezone: str = DEFAULT_TIMEZONE) -> datetime:
    """The UTC instant the quote stops being valid: the end of its ``valid_until`` day."""
    return start_of_day(quote.valid_until + timedelta(days=1), timezone)


def is_quote_expired(quote: Quote, now: datetime, timezone: str = DEFAULT_TIMEZONE) -> bool:
    """True when ``now`` is past the validity (whatever the stored status says)."""
    return now >= quote_expires_at(quote, timezone)


def _not_expired(quote: Quote, now: datetime, timezone: str) -> None:
    if is_quote_expired(quote, now, timezone):
        raise RuleViolation(
            f"quote {quote.id} expired after {quote.valid_until.isoformat()}",
            code="quote.expired",
            details={"id": quote.id, "valid_until": quote.valid_until.isoformat()},
        )


def submit_quote(quote: Quote, now: datetime, actor: str) -> Quote:
    """Ask for approval: draft → pending_approval."""
    return step(QUOTE_TABLE, quote, "submit", now, actor)


def approve_quote(
    quote: Quote, policy: QuotePolicy, approver: Principal, reason: str, now: datetime
) -> Quote:
    """Approve the discount: pending_approval → approved, recording approver and reason.

    Refused: an approver without an approving role (``contracts.approver_role``), the quote's
    own author (``quote.self_approval``), a blank reason (ValidationError).
    """
    QUOTE_TABLE.target(quote.status.value, "approve")
    check_approver(
        approver,
        policy.approver_roles,
        quote.author_id,
        self_code="quote.self_approval",
        document="quote",
        document_id=quote.id,
    )
    approval = Approval(approver.user_id, now, reason)
    return step(QUOTE_TABLE, quote, "approve", now, approver.user_id, reason, approval=approval)


def decline_quote(
    quote: Quote, policy: QuotePolicy, approver: Principal, reason: str, now: datetime
) -> Quote:
    """Refuse the discount: pending_approval → draft with the reason (the author revises it)."""
    QUOTE_TABLE.target(quote.status.value, "decline")
    check_approver(
        approver,
        policy.approver_roles,
        quote.author_id,
        self_code="quote.self_approval",
        document="quote",
        document_id=quote.id,
    )
    Approval(approver.user_id, now, reason)  # the same checks on the reason
    return step(QUOTE_TABLE, quote, "decline", now, approver.user_id, reason, reason=reason)


def send_quote(
    quote: Quote,
    policy: QuotePolicy,
    now: datetime,
    actor: str,
    timezone: str = DEFAULT_TIMEZONE,
) -> Quote:
    """Send to the customer: from approved, or from draft when no approval is needed.

    A draft whose discount needs approval is ``quote.approval_required``; an expired quote is
    ``quote.expired``.
    """
    QUOTE_TABLE.target(quote.status.value, "send")
    if quote.status is QuoteStatus.DRAFT and needs_approval(quote, policy):
        raise RuleViolation(
            f"quote {quote.id} gives {quote.price.effective_discount:.4f} discount, above "
            f"{policy.discount_threshold}; approval is required",
            code="quote.approval_required",
            details={
                "id": quote.id,
                "discount": str(quote.price.effective_discount),
                "threshold": str(policy.discount_threshold),
            },
        )
    _not_expired(quote, now, timezone)
    return step(QUOTE_TABLE, quote, "send", now, actor)


def accept_quote(
    quote: Quote, now: datetime, actor: str, timezone: str = DEFAULT_TIMEZONE
) -> Quote:
    """The customer accepts: sent → accepted (``quote.expired`` past its validity)."""
    QUOTE_TABLE.target(quote.status.value, "accept")
    _not_expired(quote, now, timezone)
    return step(QUOTE_TABLE, quote, "accept", now, actor)


def reject_quote(quote: Quote, reason: str, now: datetime, actor: str) -> Quote:
    """The customer rejects: sent → rejected, with the reason."""
    if not reason.strip():
        raise ValidationError.single("reason", "field.required", "a reason is required")
    return step(QUOTE_TABLE, quote, "reject", now, actor, reason, reason=reason)


def expire_quote(quote: Quote, now: datetime, timezone: str = DEFAULT_TIMEZONE) -> Quote:
    """Mark an open quote expired once ``now`` is past its validity (``quote.not_expired``)."""
    QUOTE_TABLE.target(quote.status.value, "expire")
    if not is_quote_expired(quote, now, timezone):
        raise RuleViolation(
            f"quote {quote.id} is valid until {quote.valid_until.isoformat()}",
            code="quote.not_expired",
            details={"id": quote.id, "valid_until": quote.valid_until.isoformat()},
        )
    return step(QUOTE_TABLE, quote, "expire", now, "system")


def revise_quote(
    quote: Quote,
    new_id: QuoteId,
    now: datetime,
    actor: str,
    *,
    lines: Sequence[LineInput] | None = None,
    products: Mapping[ProductId, Product] | None = None,
    discount_rate: Decimal | None = None,
    valid_until: date | None = None,
) -> tuple[Quote, Quote]:
    """The next revision: ``(old superseded, new draft, revision + 1)``; lines kept unless given.

    The new revision starts over (draft, no approval) and names the old one in ``previous_id``.
    """
    old = step(QUOTE_TABLE, quote, "supersede", now, actor)
    new = Quote(
        id=new_id,
        customer_id=quote.customer_id,
        author_id=actor,
        currency=quote.currency,
        lines=quote.lines
        if lines is None
        else resolve_lines(lines, products or {}, quote.currency),
        valid_until=valid_until or quote.valid_until,
        created_at=now,
        owner_id=quote.owner_id,
        opportunity_id=quote.opportunity_id,
        revision=quote.revision + 1,
        previous_id=quote.id,
        tax_inclusive=quote.tax_inclusive,
        discount_rate=quote.discount_rate if discount_rate is None else discount_rate,
        history=(StageChange(None, QuoteStatus.DRAFT.value, "revise", now, actor),),
    )
    return old, new
