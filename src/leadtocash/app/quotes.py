"""Products and quotes (产品, 报价): the price list and the quote lifecycle, through the facade.

``crm.products`` keeps the price list (product managers and admins); ``crm.quotes`` drafts
quotes for a customer in the caller's data scope from products or free lines, edits drafts,
submits them for discount approval (``quote.approval_needed`` goes to the outbox), lets a
configured approver — never the author — approve or decline, sends, records the customer's
acceptance or rejection, revises (a new revision supersedes the old one) and expires quotes
past their validity in a sweep that reads only open quotes whose validity ended (an indexed
range). Every command is authorized, atomic and audits each quote or product it changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.documents import (
    CashPolicies,
    batch_size,
    check_of_customer,
    guard_document,
    index_ids,
    page_limit,
)
from leadtocash.app.unit_of_work import Page, UnitOfWork
from leadtocash.collision import check_not_merged
from leadtocash.contracts import (
    LineInput,
    Product,
    ProductId,
    Quote,
    QuoteId,
    accept_quote,
    approve_quote,
    business_date,
    decline_quote,
    draft_quote,
    edit_quote,
    expire_quote,
    reject_quote,
    revise_quote,
    send_quote,
    submit_quote,
)
from leadtocash.contracts.events import QuoteApprovalNeeded
from leadtocash.errors import (
    ConcurrencyConflict,
    InvalidTransition,
    RuleViolation,
    ValidationError,
)
from leadtocash.model import CustomerId
from leadtocash.money import Money
from leadtocash.pipeline.opportunity import Opportunity, OpportunityId

__all__ = ["ExpiryReport", "ProductService", "QuoteService"]

_log = logging.getLogger(__name__)


def _products_of(uow: UnitOfWork, lines: Sequence[LineInput]) -> dict[ProductId, Product]:
    wanted = sorted({line.product_id for line in lines if line.product_id is not None})
    return {p.id: p for p in uow.repository(Product).get_many(list(wanted))}


@attrs.frozen
class ProductService:
    """The price list (产品与价目表): create, edit, deactivate, read."""

    ctx: AppContext

    def create_product(
        self,
        principal: Principal,
        code: str,
        name: str,
        unit: str,
        list_price: Money,
        tax_rate: Decimal = Decimal("0.13"),
    ) -> Product:
        """A new active product whose id is its code (``product.duplicate_code`` when taken).

        The code is the id, so two concurrent creations of one code meet on the store's
        insert check and the second is refused.
        """
        product = Product(ProductId(code.strip()), code.strip(), name, unit, list_price, tax_rate)

        def command(uow: UnitOfWork) -> tuple[Product, list[Change]]:
            repo = uow.repository(Product)
            if repo.find(product.id) is not None:
                raise RuleViolation(
                    f"product code {product.code!r} is taken",
                    code="product.duplicate_code",
                    details={"code": product.code},
                )
            repo.add(product)
            return product, [Change("product", product.id, None, product)]

        return self.ctx.execute(principal, Action.PRODUCT_MANAGE, command)

    def _edit(
        self, principal: Principal, product_id: str, reason: str | None, **changes: object
    ) -> Product:
        def command(uow: UnitOfWork) -> tuple[Product, list[Change]]:
            repo = uow.repository(Product)
            product = repo.get(product_id)
            after = attrs.evolve(product, **changes)  # type: ignore[arg-type]
            if after == product:
                return product, []
            repo.save(after)
            return after, [Change("product", product.id, product, after, reason)]

        return self.ctx.execute(principal, Action.PRODUCT_MANAGE, command)

    def edit_product(
        self,
        principal: Principal,
        product_id: str,
        *,
        name: str | None = None,
        unit: str | None = None,
        list_price: Money | None = None,
        tax_rate: Decimal | None = None,
    ) -> Product:
        """Change a product's name, unit, list price or tax rate (None = unchanged).

        Quotes already drafted keep the price and rate they copied.
        """
        given = {"name": name, "unit": unit, "list_price": list_price, "tax_rate": tax_rate}
        return self._edit(
            principal, product_id, None, **{k: v for k, v in given.items() if v is not None}
        )

    def deactivate_product(self, principal: Principal, product_id: str, reason: str) -> Product:
        """Take a product off sale: new quote lines may no longer use it (a reason is required)."""
        if not reason.strip():
            raise ValidationError.single("reason", "field.required", "a reason is required")
        return self._edit(principal, product_id, reason, active=False)

    def get_product(self, principal: Principal, product_id: str) -> Product:
        """One product (NotFound when there is none)."""
        return self.ctx.read(
            principal, Action.PRODUCT_READ, lambda uow: uow.repository(Product).get(product_id)
        )

    def list_products(
        self,
        principal: Principal,
        *,
        active_only: bool = True,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Page[Product]:
        """One page of products in code order (only active ones unless ``active_only`` off)."""
        index, size = ("active" if active_only else "code"), page_limit(limit)
        return self.ctx.read(
            principal,
            Action.PRODUCT_READ,
            lambda uow: uow.repository(Product).query(index, after=after, limit=size),
        )


@attrs.frozen
class ExpiryReport:
    """What a quote expiry sweep did: quotes expired, quotes skipped (changed concurrently)."""

    expired: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


_QuoteStep = Callable[[UnitOfWork, Quote, datetime], Quote]


@attrs.frozen
class QuoteService:
    """Quotes (报价) of the caller's customers: draft, edit, approve, send, accept, revise."""

    ctx: AppContext

    @property
    def policies(self) -> CashPolicies:
        """The organisation's policies in force (``crm.settings``: stored, audited)."""
        return self.ctx.settings.cash

    def _step(
        self,
        principal: Principal,
        action: Action,
        quote_id: str,
        step: _QuoteStep,
        *,
        reason: str | None = None,
        submitted: bool = False,
    ) -> Quote:
        def command(uow: UnitOfWork) -> tuple[Quote, list[Change]]:
            repo = uow.repository(Quote)
            quote = repo.get(quote_id)
            guard_document(
                self.ctx, uow, principal, "quote", quote.id, quote.customer_id, write=True
            )
            now = self.ctx.clock.now()
            after = step(uow, quote, now)
            repo.save(after)
            if submitted:
                price = after.price
                uow.record(
                    QuoteApprovalNeeded(
                        now, after.id, after.customer_id, after.author_id, price.total,
                        str(price.effective_discount),
                    )
                )  # fmt: skip
            return after, [Change("quote", quote.id, quote, after, reason)]

        return self.ctx.execute(principal, action, command)

    # -- commands ---------------------------------------------------------------------------
    def draft(
        self,
        principal: Principal,
        customer_id: str,
        currency: str,
        lines: Sequence[LineInput],
        *,
        valid_until: date | None = None,
        validity_days: int = 30,
        opportunity_id: str | None = None,
        tax_inclusive: bool = True,
        discount_rate: Decimal = Decimal(0),
    ) -> Quote:
        """A draft quote for a customer in the caller's write scope, owned by its owner.

        Product lines take the product's list price and tax rate unless given; an unknown or
        inactive product is ``quote.unknown_product``, a price in another currency
        ``contracts.currency_mismatch``.
        """

        def command(uow: UnitOfWork) -> tuple[Quote, list[Change]]:
            ident = QuoteId(self.ctx.ids.new_id("quote"))
            customer = guard_document(
                self.ctx, uow, principal, "quote", ident, customer_id, write=True
            )
            check_not_merged(customer)  # a new record goes to the survivor
            if opportunity_id is not None:
                deal = uow.repository(Opportunity).get(opportunity_id)
                check_of_customer(deal, customer.id, code="quote.opportunity_mismatch",
                                  field="opportunity_id")  # fmt: skip
            quote = draft_quote(
                ident, CustomerId(customer.id), principal.user_id, currency, lines,
                _products_of(uow, lines), self.ctx.clock.now(), valid_until=valid_until,
                validity_days=validity_days, owner_id=customer.owner_id or principal.rep_id,
                opportunity_id=OpportunityId(opportunity_id) if opportunity_id else None,
                tax_inclusive=tax_inclusive, discount_rate=discount_rate,
                timezone=self.ctx.timezone,
            )  # fmt: skip
            uow.repository(Quote).add(quote)
            return quote, [Change("quote", quote.id, None, quote)]

        return self.ctx.execute(principal, Action.QUOTE_WRITE, command)

    def edit(
        self,
        principal: Principal,
        quote_id: str,
        *,
        lines: Sequence[LineInput] | None = None,
        discount_rate: Decimal | None = None,
        valid_until: date | None = None,
        tax_inclusive: bool | None = None,
    ) -> Quote:
        """Change a draft's lines, discount, validity or tax basis (``quote.not_editable``)."""

        def step(uow: UnitOfWork, quote: Quote, now: datetime) -> Quote:
            products = _products_of(uow, lines or ())
            return edit_quote(
                quote, now, lines=lines, products=products, discount_rate=discount_rate,
                valid_until=valid_until, tax_inclusive=tax_inclusive,
            )  # fmt: skip

        return self._step(principal, Action.QUOTE_WRITE, quote_id, step)

    def submit(self, principal: Principal, quote_id: str) -> Quote:
        """Ask for discount approval: draft → pending_approval; approvers are notified."""
        return self._step(
            principal, Action.QUOTE_WRITE, quote_id,
            lambda _u, q, now: submit_quote(q, now, principal.user_id), submitted=True,
        )  # fmt: skip

    def approve(self, principal: Principal, quote_id: str, reason: str) -> Quote:
        """Approve the discount (a configured approver role, never the author)."""
        policy = self.policies.quotes
        return self._step(
            principal, Action.QUOTE_APPROVE, quote_id,
            lambda _u, q, now: approve_quote(q, policy, principal, reason, now), reason=reason,
        )  # fmt: skip

    def decline(self, principal: Principal, quote_id: str, reason: str) -> Quote:
        """Refuse the discount: back to draft with the reason."""
        policy = self.policies.quotes
        return self._step(
            principal, Action.QUOTE_APPROVE, quote_id,
            lambda _u, q, now: decline_quote(q, policy, principal, reason, now), reason=reason,
        )  # fmt: skip

    def send(self, principal: Principal, quote_id: str) -> Quote:
        """Send to the customer (``quote.approval_required`` when the discount needs approval)."""
        policy, tz = self.policies.quotes, self.ctx.timezone
        return self._step(
            principal, Action.QUOTE_WRITE, quote_id,
            lambda _u, q, now: send_quote(q, policy, now, principal.user_id, tz),
        )  # fmt: skip

    def accept(self, principal: Principal, quote_id: str) -> Quote:
        """Record the customer's acceptance of a sent quote (``quote.expired`` past validity)."""
        tz = self.ctx.timezone
        return self._step(
            principal, Action.QUOTE_WRITE, quote_id,
            lambda _u, q, now: accept_quote(q, now, principal.user_id, tz),
        )  # fmt: skip

    def reject(self, principal: Principal, quote_id: str, reason: str) -> Quote:
        """Record the customer's rejection of a sent quote, with the reason."""
        return self._step(
            principal, Action.QUOTE_WRITE, quote_id,
            lambda _u, q, now: reject_quote(q, reason, now, principal.user_id), reason=reason,
        )  # fmt: skip

    def revise(
        self,
        principal: Principal,
        quote_id: str,
        *,
        lines: Sequence[LineInput] | None = None,
        discount_rate: Decimal | None = None,
        valid_until: date | None = None,
    ) -> Quote:
        """A new draft revision (lines kept unless given); the old quote is superseded."""

        def command(uow: UnitOfWork) -> tuple[Quote, list[Change]]:
            repo = uow.repository(Quote)
            quote = repo.get(quote_id)
            guard_document(
                self.ctx, uow, principal, "quote", quote.id, quote.customer_id, write=True
            )
            old, new = revise_quote(
                quote, QuoteId(self.ctx.ids.new_id("quote")), self.ctx.clock.now(),
                principal.user_id, lines=lines, products=_products_of(uow, lines or ()),
                discount_rate=discount_rate, valid_until=valid_until,
            )  # fmt: skip
            repo.save(old)
            repo.add(new)
            return new, [
                Change("quote", old.id, quote, old, f"revised as {new.id}"),
                Change("quote", new.id, None, new),
            ]

        return self.ctx.execute(principal, Action.QUOTE_WRITE, command)

    def expire_due(self, principal: Principal, *, batch: int = 500) -> ExpiryReport:
        """Expire every open quote whose validity ended (a system sweep, ``cash.sweep``).

        Reads the ``open_valid_until`` index below today's date in the organisation's time
        zone — only open quotes past their validity — and expires each in its own unit of work.
        """
        batch_size(batch, "batch")
        self.ctx.policy.check(principal, Action.CASH_SWEEP)
        today = business_date(self.ctx.clock.now(), self.ctx.timezone)
        due = index_ids(self.ctx, Quote, "open_valid_until", below=today.isoformat(), page=batch)
        expired: list[str] = []
        skipped: list[str] = []
        for quote_id in due:

            def command(uow: UnitOfWork, ident: str = quote_id) -> tuple[bool, list[Change]]:
                repo = uow.repository(Quote)
                quote = repo.get(ident)
                now = self.ctx.clock.now()
                try:
                    after = expire_quote(quote, now, self.ctx.timezone)
                except (RuleViolation, InvalidTransition):  # accepted or still valid meanwhile
                    return False, []
                repo.save(after)
                return True, [Change("quote", ident, quote, after, "validity ended")]

            try:
                done = self.ctx.execute(principal, Action.CASH_SWEEP, command)
            except ConcurrencyConflict:
                done = False
            (expired if done else skipped).append(quote_id)
        _log.info("quote expiry: %d expired, %d skipped", len(expired), len(skipped))
        return ExpiryReport(tuple(expired), tuple(skipped))

    # -- reads ------------------------------------------------------------------------------
    def get(self, principal: Principal, quote_id: str) -> Quote:
        """One quote of a customer in the caller's read scope."""

        def query(uow: UnitOfWork) -> Quote:
            quote = uow.repository(Quote).get(quote_id)
            guard_document(
                self.ctx, uow, principal, "quote", quote.id, quote.customer_id, write=False
            )
            return quote

        return self.ctx.read(principal, Action.QUOTE_READ, query)

    def for_customer(
        self,
        principal: Principal,
        customer_id: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Page[Quote]:
        """One page of a customer's quotes, oldest first (the customer in the read scope)."""
        size = page_limit(limit)

        def query(uow: UnitOfWork) -> Page[Quote]:
            guard_document(self.ctx, uow, principal, "quote", customer_id, customer_id, write=False)
            return uow.repository(Quote).query_group("customer", customer_id, after=after,
                                                    limit=size)  # fmt: skip

        return self.ctx.read(principal, Action.QUOTE_READ, query)
