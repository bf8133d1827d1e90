"""Contacts (联系人) and follow-ups (跟进记录, 跟进计划): add, edit, list, remind.

Logging a follow-up changes the customer (protection, "no follow-up" clocks), so it stays on
the pool service's write path (:meth:`PoolService.log_follow_up`, which takes the next
follow-up date); this service edits what changes no customer fact, reads per customer and
per rep, and runs the reminder sweep over the indexed due time of open plans.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customer_screens import UNCHANGED, visible_contact
from leadtocash.app.customers import CustomerWrites
from leadtocash.app.documents import batch_size
from leadtocash.app.listing import DEFAULT_PAGE, page_limit, time_value
from leadtocash.app.unit_of_work import Page, UnitOfWork
from leadtocash.collision import check_not_merged
from leadtocash.errors import FieldError, PermissionDenied, ValidationError
from leadtocash.events import FollowUpDue
from leadtocash.fields import length_errors, parse_email, parse_phone
from leadtocash.model import Contact, ContactId, Customer, FollowUp, FollowUpKind, Lead, RepId
from leadtocash.scopes import customer_target, rep_target

__all__ = ["ContactService", "ReminderSweep", "check_follow_up_text", "complete_plans"]

_SWEEP_PAGE = 200


def check_follow_up_text(note: str | None, plan: str | None, next_at: datetime | None) -> None:
    """ValidationError when a note or plan is too long or ``next_at`` has no time zone."""
    errors = length_errors({"note": note, "plan": plan})
    if next_at is not None and next_at.utcoffset() is None:
        errors.append(FieldError("next_at", "field.type", "next_at needs a time zone"))
    if errors:
        raise ValidationError(errors)


def complete_plans(uow: UnitOfWork, customer_id: str, now: datetime) -> list[Change]:
    """Mark the customer's open follow-up plans done (a follow-up was just logged)."""
    changes = []
    for plan in uow.follow_ups.query_group("plan_open", customer_id, limit=500).items:
        done = attrs.evolve(plan, plan_done_at=now, updated_at=now)
        uow.follow_ups.save(done)
        changes.append(Change("follow_up", plan.id, plan, done, reason="plan done"))
    return changes


@attrs.frozen
class ReminderSweep:
    """What one reminder sweep did: the plans it reminded (one outbox message each), and the
    due plans it closed without a reminder because their customer or lead is in the recycle
    bin (or gone)."""

    reminded: tuple[str, ...]
    skipped: tuple[str, ...] = ()


@attrs.frozen
class ContactService:
    """Contacts and follow-ups of customers."""

    ctx: AppContext
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )

    # -- contacts --------------------------------------------------------------------------------
    def add_contact(
        self,
        principal: Principal,
        customer_id: str,
        name: str,
        *,
        title: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        decision_maker: bool = False,
    ) -> Contact:
        """Add a contact (联系人) to a customer (its owner, write collaborators, managers)."""
        fields = _contact_fields(name=name, title=title, phone=phone, email=email)

        def command(uow: UnitOfWork) -> tuple[Contact, list[Change]]:
            customer = uow.customers.get(customer_id)
            self.customers.owner_or_manager(uow, principal, customer, collaborators=True)
            check_not_merged(customer)  # a new record goes to the survivor
            contact = Contact(
                id=ContactId(self.ctx.ids.new_id("contact")),
                customer_id=customer.id,
                decision_maker=decision_maker,
                **fields,
            )
            uow.contacts.add(contact)
            return contact, [Change("contact", contact.id, None, contact)]

        return self.ctx.execute(principal, Action.CONTACT_WRITE, command)

    def edit_contact(
        self,
        principal: Principal,
        contact_id: str,
        *,
        name: str = UNCHANGED,
        title: str | None = UNCHANGED,
        phone: str | None = UNCHANGED,
        email: str | None = UNCHANGED,
        decision_maker: bool = UNCHANGED,
    ) -> Contact:
        """Edit a contact; fields not given stay as they are, None clears an optional one."""
        given = {k: v for k, v in (("name", name), ("title", title), ("phone", phone),
                                   ("email", email)) if v is not UNCHANGED}  # fmt: skip
        fields = _contact_fields(**given) if given else {}
        if decision_maker is not UNCHANGED:
            fields["decision_maker"] = bool(decision_maker)

        def command(uow: UnitOfWork) -> tuple[Contact, list[Change]]:
            before = uow.contacts.get(contact_id)
            customer = uow.customers.get(before.customer_id)
            self.customers.owner_or_manager(uow, principal, customer, collaborators=True)
            after = attrs.evolve(before, **fields)
            if after == before:
                return before, []
            uow.contacts.save(after)
            return after, [Change("contact", after.id, before, after)]

        return self.ctx.execute(principal, Action.CONTACT_WRITE, command)

    def contacts(
        self,
        principal: Principal,
        customer_id: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> Page[Contact]:
        """One page of a customer's contacts, masked like the customer's own contact fields."""
        size = page_limit(limit)

        def query(uow: UnitOfWork) -> Page[Contact]:
            customer = uow.customers.get(customer_id)
            self.customers.guard(uow, principal, customer, write=False)
            page = uow.contacts.query("customer", equals=customer.id, after=after, limit=size)
            shown = tuple(visible_contact(c, customer, principal) for c in page.items)
            return Page(shown, page.next_cursor)

        return self.ctx.read(principal, Action.CUSTOMER_READ, query)

    # -- follow-ups ------------------------------------------------------------------------------
    def edit_follow_up(
        self,
        principal: Principal,
        follow_up_id: str,
        *,
        note: str = UNCHANGED,
        kind: FollowUpKind = UNCHANGED,
        next_at: datetime | None = UNCHANGED,
        plan: str = UNCHANGED,
    ) -> FollowUp:
        """Correct a follow-up's note or kind, or move or drop (None) its plan (its rep or a
        manager). A moved plan is reminded again when it falls due."""
        check_follow_up_text(
            None if note is UNCHANGED else note,
            None if plan is UNCHANGED else plan,
            None if next_at is UNCHANGED else next_at,
        )
        given: dict[str, Any] = {
            k: v
            for k, v in (("note", note), ("kind", kind), ("next_at", next_at), ("plan", plan))
            if v is not UNCHANGED
        }
        if "next_at" in given:
            given["reminded_at"] = None

        def command(uow: UnitOfWork) -> tuple[FollowUp, list[Change]]:
            before = uow.follow_ups.get(follow_up_id)
            self._may_edit(uow, principal, before)
            after = attrs.evolve(before, **given)
            if after == before:
                return before, []
            after = attrs.evolve(after, updated_at=self.ctx.clock.now())
            uow.follow_ups.save(after)
            return after, [Change("follow_up", after.id, before, after)]

        return self.ctx.execute(principal, Action.FOLLOW_UP_LOG, command)

    def _may_edit(self, uow: UnitOfWork, principal: Principal, follow_up: FollowUp) -> None:
        if follow_up.customer_id is not None:
            customer = uow.customers.get(follow_up.customer_id)
            if principal.is_manager:
                self.customers.guard(uow, principal, customer, write=True)
                return
        elif principal.is_manager:
            return
        if principal.rep_id != follow_up.rep_id:
            raise PermissionDenied(
                f"{principal.user_id} did not log follow-up {follow_up.id}",
                code="follow_up.not_author",
                details={"follow_up_id": follow_up.id, "user_id": principal.user_id},
            )

    def of_customer(
        self,
        principal: Principal,
        customer_id: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> Page[FollowUp]:
        """One page of a customer's follow-ups, oldest first (keyset paging)."""
        size = page_limit(limit)

        def query(uow: UnitOfWork) -> Page[FollowUp]:
            customer = uow.customers.get(customer_id)
            self.customers.guard(uow, principal, customer, write=False)
            return uow.follow_ups.query_group("target", customer.id, after=after, limit=size)

        return self.ctx.read(principal, Action.CUSTOMER_READ, query)

    def of_rep(
        self,
        principal: Principal,
        rep_id: RepId,
        *,
        after: tuple[str, str] | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> Page[FollowUp]:
        """One page of the follow-ups a rep logged, oldest first: the rep themself, or a
        manager whose scope covers the rep (their zone or team)."""
        size = page_limit(limit)

        def query(uow: UnitOfWork) -> Page[FollowUp]:
            if principal.rep_id != rep_id:
                rep = self.customers.rep(uow, rep_id)
                if not principal.is_manager:
                    raise PermissionDenied(
                        f"{principal.user_id} may not read {rep_id}'s follow-ups",
                        code="auth.out_of_scope",
                        details={"kind": "sales_rep", "id": rep_id},
                    )
                self.ctx.guard(uow, principal, rep_target(rep), write=False)
            page = uow.follow_ups.query_group("rep", rep_id, after=after, limit=size)
            # a follow-up on a customer the caller may no longer read is left out
            shown = tuple(f for f in page.items if self._readable(uow, principal, f))
            return Page(shown, page.next_cursor)

        return self.ctx.read(principal, Action.CUSTOMER_READ, query)

    def _readable(self, uow: UnitOfWork, principal: Principal, follow_up: FollowUp) -> bool:
        if follow_up.customer_id is None or principal.rep_id == follow_up.rep_id:
            return True
        customer = uow.customers.find(follow_up.customer_id)
        return customer is not None and self.ctx.in_scope(uow, principal, customer_target(customer))

    def remind_due(self, principal: Principal, *, limit: int = _SWEEP_PAGE) -> ReminderSweep:
        """Remind the reps of every follow-up plan due by now (one ``customer.follow_up_due``
        outbox message each, once): an indexed range query over the open plans' due time."""
        batch_size(limit, "limit")
        now = self.ctx.clock.now()

        def command(uow: UnitOfWork) -> tuple[ReminderSweep, list[Change]]:
            due = uow.follow_ups.query("plan_due", below=time_value(now), limit=limit).items
            uow.preload(
                *((Customer, p.customer_id) for p in due), *((Lead, p.lead_id) for p in due)
            )
            changes, reminded, skipped = [], [], []
            for plan in due:
                assert plan.next_at is not None  # indexed only with a due time
                after = attrs.evolve(plan, reminded_at=now)  # leaves the due index either way
                uow.follow_ups.save(after)
                if _target_live(uow, plan):
                    uow.record(
                        FollowUpDue(now, plan.id, plan.rep_id, plan.customer_id, plan.lead_id,
                                    plan.next_at, plan.plan)
                    )  # fmt: skip
                    reminded.append(plan.id)
                    changes.append(Change("follow_up", plan.id, plan, after, reason="reminded"))
                else:
                    skipped.append(plan.id)
                    why = "not reminded: its record is in the recycle bin"
                    changes.append(Change("follow_up", plan.id, plan, after, reason=why))
            return ReminderSweep(tuple(reminded), tuple(skipped)), changes

        return self.ctx.execute(principal, Action.FOLLOW_UP_SWEEP, command)


def _target_live(uow: UnitOfWork, plan: FollowUp) -> bool:
    """Whether the plan's customer or lead exists outside the recycle bin."""
    if plan.customer_id is not None:
        return uow.customers.find(plan.customer_id) is not None
    return plan.lead_id is not None and uow.leads.find(plan.lead_id) is not None


def _contact_fields(**given: Any) -> dict[str, Any]:
    """Validated contact fields (only those given): name required, phone and e-mail parsed."""
    errors: list[FieldError] = []
    fields: dict[str, Any] = {}
    if "name" in given:
        name = given["name"]
        if not name or not str(name).strip():
            errors.append(FieldError("name", "field.required", "name is required"))
        fields["name"] = (name or "").strip()
    if "title" in given:
        fields["title"] = given["title"].strip() if given["title"] else None
    for key, parse in (("phone", parse_phone), ("email", parse_email)):
        if key in given:
            raw = given[key]
            try:
                fields[key] = parse(raw, path=key) if raw else None
            except ValidationError as exc:
                errors.extend(exc.errors)
    errors += length_errors({k: fields.get(k) for k in ("name", "title") if k in fields})
    if errors:
        raise ValidationError(errors)
    return fields
