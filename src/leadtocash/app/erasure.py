"""Erasing a person's data on request (PIPL 个人信息保护法 art. 47, GDPR art. 17).

:func:`erase_person` finds what is stored about one person — a customer's contact fields and
its contacts, or one contact — and the leads and archived merge losers that hold the same
data, then:

1. asks the store to drop the erasable part of their audit entries and scrub the outbox
   (:meth:`~leadtocash.ports.storage.Store.erase_personal`: the salted commitments the
   hashes cover stay, so the strands still verify; docs/decisions/0006-erasure.md);
2. rewrites the aggregates without the personal fields (customers through the customer
   write path, so tier, schedule and books follow; dedup, lookup and index keys follow from
   the erased fields) and writes one tombstone audit entry per rewritten aggregate: who,
   when, why and which fields — never the values;
3. scrubs once more, for entries written between the first read and the rewrite.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

import attrs
import phonenumbers

from leadtocash.access import Action, Principal
from leadtocash.aftersales import Ticket
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites, with_archives
from leadtocash.app.documents import all_pages
from leadtocash.app.lead_scores import LeadScoring
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.collision import email_key, phone_key
from leadtocash.errors import FieldError, ValidationError
from leadtocash.fields import PERSONAL_FIELDS, length_errors
from leadtocash.model import Contact, Customer, Lead
from leadtocash.ports.storage import ERASED, Erasure

__all__ = [
    "ErasureResult",
    "PersonRecords",
    "erase_person",
    "person_records",
    "scrub_follow_ups",
    "scrub_text",
    "scrub_tickets",
    "wiped",
]


@attrs.frozen
class ErasureResult:
    """What :func:`erase_person` erased: the aggregates rewritten (``(kind, id)``), and how
    many audit entries and outbox messages lost the person's values."""

    subjects: tuple[tuple[str, str], ...]
    audit_entries: int
    outbox_messages: int


@attrs.frozen
class PersonRecords:
    """The records holding one person's data: the customer and its archived merge losers (a
    customer's people), or none (one contact); the contacts; the leads holding one of their
    phones or e-mails. What an erasure rewrites and an access request discloses."""

    customers: tuple[Customer, ...]
    contacts: tuple[Contact, ...]
    leads: tuple[Lead, ...]

    def subjects(self) -> tuple[tuple[str, str], ...]:
        return (
            *(("customer", str(c.id)) for c in self.customers),
            *(("contact", str(c.id)) for c in self.contacts),
            *(("lead", str(lead.id)) for lead in self.leads),
        )

    def values(self) -> tuple[str, ...]:
        found: list[str | None] = []
        for customer in self.customers:
            found += [*customer.phones, *customer.emails, customer.address]
        for contact in self.contacts:
            found += [contact.name, contact.phone, contact.email]
        for lead in self.leads:
            found += [lead.contact_name, lead.phone, lead.email]
        return tuple(dict.fromkeys(v for v in found if v and v != ERASED))


def person_records(
    uow: UnitOfWork, customer_id: str | None, contact_id: str | None
) -> tuple[Customer, PersonRecords]:
    """The customer in question and the records holding the person's data (a customer's
    people with ``customer_id``, one contact with ``contact_id``)."""
    if contact_id is not None:
        contact = uow.contacts.get(contact_id)
        customer = uow.customers.get(contact.customer_id)
        customers: list[Customer] = []
        contacts = [contact]
        phones = [contact.phone] if contact.phone else []
        emails = [contact.email] if contact.email else []
    else:
        assert customer_id is not None
        customer = uow.customers.get(customer_id)
        customers = with_archives(uow, customer)
        contacts = []
        for holder in customers:
            contacts += all_pages(uow.contacts, "customer", equals=holder.id)
        phones = [p for c in customers for p in c.phones] + [c.phone for c in contacts if c.phone]
        emails = [e for c in customers for e in c.emails] + [c.email for c in contacts if c.email]
    keys = [phone_key(p).text for p in phones] + [email_key(e).text for e in emails]
    lead_ids = sorted({ident for key in keys for ident in uow.leads.find_ids_by_key(key)})
    leads = uow.leads.get_many(lead_ids)
    return customer, PersonRecords(tuple(customers), tuple(contacts), tuple(leads))


def erase_person(
    ctx: AppContext,
    writes: CustomerWrites,
    principal: Principal,
    *,
    customer_id: str | None = None,
    contact_id: str | None = None,
    reason: str,
) -> ErasureResult:
    """Erase one person's data everywhere it is stored (see the module docstring).

    ``customer_id``: the customer's phones, e-mails and address, and all its contacts;
    ``contact_id``: that contact's name, phone and e-mail. Either way, the leads holding one
    of those phones or e-mails lose their contact name, phone and e-mail too. ``privacy.erase``
    (admins), within the caller's data scope. The customer's (company) name stays.
    """
    errors: list[FieldError] = []
    if customer_id is None and contact_id is None:
        errors.append(
            FieldError("customer_id", "field.required", "give a customer id or a contact id")
        )
    elif customer_id is not None and contact_id is not None:
        errors.append(
            FieldError("contact_id", "field.type", "give a customer id or a contact id, not both")
        )
    if not reason or not reason.strip():
        errors.append(FieldError("reason", "field.required", "an erasure needs a reason"))
    errors += length_errors({"reason": reason})
    if errors:
        raise ValidationError(errors)

    def read(uow: UnitOfWork) -> PersonRecords:
        customer, found = person_records(uow, customer_id, contact_id)
        writes.guard(uow, principal, customer, write=True)
        return found

    found = ctx.read(principal, Action.PRIVACY_ERASE, read)
    erasure = Erasure(found.subjects(), found.values())
    first = ctx.store.erase_personal(erasure)

    def command(uow: UnitOfWork) -> tuple[tuple[tuple[str, str], ...], list[Change]]:
        customer, now_found = person_records(uow, customer_id, contact_id)
        writes.guard(uow, principal, customer, write=True)
        changes: list[Change] = []
        values = now_found.values()
        for before in now_found.customers:
            after = attrs.evolve(before, phones=(), emails=(), address=None)
            if after != before:
                staged = writes.stage(uow, before, after, reason=reason, archive=True)
                if staged.changes:
                    changes.append(_tombstone("customer", before.id, before, reason))
        for contact in now_found.contacts:
            after_contact = attrs.evolve(contact, name=ERASED, phone=None, email=None)
            if after_contact != contact:
                uow.contacts.save(after_contact)
                changes.append(_tombstone("contact", contact.id, contact, reason))
        for lead in now_found.leads:
            after_lead = attrs.evolve(
                lead, contact_name=None, phone=None, email=None,
                note=scrub_text(lead.note, values) if lead.note else lead.note,
            )  # fmt: skip
            if after_lead != lead:
                after_lead = LeadScoring(ctx).scored(uow, after_lead)  # fields gone: rescored
                uow.leads.save(after_lead)
                changes.append(_tombstone("lead", lead.id, lead, reason))
        # the follow-ups of every record that held the person's data: their values go too
        customers = list(
            dict.fromkeys([str(customer.id), *(str(c.id) for c in now_found.customers)])
        )
        holders = customers + [str(lead.id) for lead in now_found.leads]
        scrubbed: list[tuple[str, str]] = []
        for holder in dict.fromkeys(holders):
            found, _texts, notes = scrub_follow_ups(uow, holder, values, reason)
            scrubbed += found
            changes += notes
        # and what the customer's tickets say about them (subjects, descriptions, reasons)
        for holder in customers:
            found, _texts, rewritten = scrub_tickets(uow, holder, values, reason)
            scrubbed += found
            changes += rewritten
        return (*now_found.subjects(), *scrubbed), changes

    subjects = ctx.execute(principal, Action.PRIVACY_ERASE, command)
    everything = Erasure(tuple(dict.fromkeys((*erasure.subjects, *subjects))), erasure.values)
    second = ctx.store.erase_personal(everything)
    return ErasureResult(
        everything.subjects,
        first.audit_entries + second.audit_entries,
        first.outbox_messages + second.outbox_messages,
    )


def scrub_follow_ups(
    uow: UnitOfWork, target: str, values: Sequence[str] | None, reason: str
) -> tuple[list[tuple[str, str]], list[str], list[Change]]:
    """Scrub the follow-ups of customer or lead ``target``: the person's ``values`` replaced
    by ERASED in their notes and plans, or (``values`` None: the record is purged) the whole
    note and plan. ``(subjects, texts, changes)``: the follow-ups rewritten, the texts they
    held (for the outbox scrub) and one tombstone audit change each."""
    subjects: list[tuple[str, str]] = []
    texts: list[str] = []
    changes: list[Change] = []
    for follow_up in uow.follow_ups.whole_group("target", target):
        note, plan = (
            (wiped(follow_up.note), wiped(follow_up.plan))
            if values is None
            else (scrub_text(follow_up.note, values), scrub_text(follow_up.plan, values))
        )
        if (note, plan) == (follow_up.note, follow_up.plan):
            continue
        uow.follow_ups.save(attrs.evolve(follow_up, note=note, plan=plan))
        subjects.append(("follow_up", str(follow_up.id)))
        texts += [t for t in (follow_up.note, follow_up.plan) if t and values is None]
        changes.append(_tombstone("follow_up", follow_up.id, follow_up, reason))
    return subjects, texts, changes


def scrub_tickets(
    uow: UnitOfWork, customer_id: str, values: Sequence[str] | None, reason: str
) -> tuple[list[tuple[str, str]], list[str], list[Change]]:
    """Scrub the tickets of customer ``customer_id`` as :func:`scrub_follow_ups` scrubs
    follow-ups: the person's ``values`` replaced by ERASED in each ticket's subject,
    description, history reasons and rating comment, or (``values`` None: the customer is
    purged) those texts wiped whole. ``(subjects, texts, changes)`` likewise."""
    subjects: list[tuple[str, str]] = []
    texts: list[str] = []
    changes: list[Change] = []
    scrub: Callable[[str], str] = (
        wiped if values is None else functools.partial(scrub_text, values=values)
    )
    for ticket in uow.repository(Ticket).whole_group("customer", customer_id):
        after = _scrubbed_ticket(ticket, scrub)
        if after == ticket:
            continue
        uow.repository(Ticket).save(after)
        subjects.append(("ticket", str(ticket.id)))
        if values is None:
            texts += [t for t in _ticket_texts(ticket) if t]
        changes.append(_tombstone("ticket", ticket.id, ticket, reason))
    return subjects, texts, changes


def _ticket_texts(ticket: Ticket) -> list[str]:
    """The free texts a ticket holds: what people wrote, where a person's data may be."""
    comment = ticket.satisfaction.comment if ticket.satisfaction else None
    reasons = [change.reason for change in ticket.history]
    return [t for t in (ticket.subject, ticket.description, *reasons, comment) if t]


def _scrubbed_ticket(ticket: Ticket, scrub: Callable[[str], str]) -> Ticket:
    """``ticket`` with ``scrub`` applied to every free text it holds (the rest unchanged)."""

    def text(value: str | None) -> str | None:
        return scrub(value) if value else value

    history = tuple(
        attrs.evolve(change, reason=text(change.reason)) if change.reason else change
        for change in ticket.history
    )
    rating = ticket.satisfaction
    if rating is not None and rating.comment:
        rating = attrs.evolve(rating, comment=text(rating.comment))
    return attrs.evolve(
        ticket,
        subject=scrub(ticket.subject),
        description=text(ticket.description),
        history=history,
        satisfaction=rating,
    )


def wiped(text: str) -> str:
    """``text`` wiped whole (ERASED), or left as it is when empty: what a purge leaves."""
    return ERASED if text else text


def scrub_text(text: str, values: Sequence[str]) -> str:
    """``text`` with every occurrence of ``values`` replaced by ERASED: letters in any case,
    and a phone number (stored in E.164) also as typed — national digits, with or without
    the country code (+86, 86, 0086, (+86)), spaces, dashes or dots between the digits, in
    ASCII or full-width digits."""
    if not text:
        return text
    return _pattern(tuple(values)).sub(ERASED, text)


#: What people put between a phone number's digits: nothing, whitespace (the ideographic
#: space too), a dash (full-width too) or a dot.
_SEPARATOR = r"[\s\-.\uff0d]?"


def _digit(digit: str) -> str:
    """``digit`` in ASCII or full-width (the Chinese input methods' form)."""
    return f"[{digit}{chr(0xFF10 + int(digit))}]"


def _typed_digits(digits: str) -> str:
    return _SEPARATOR.join(_digit(d) for d in digits)


@functools.lru_cache(maxsize=64)
def _pattern(values: tuple[str, ...]) -> re.Pattern[str]:
    alternatives: list[str] = []
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        alternatives.append(re.escape(value))
        if value.startswith("+") and value[1:].isdigit():
            number = phonenumbers.parse(value)
            code = _typed_digits(str(number.country_code))
            prefix = rf"(?:[(（][+＋]?{code}[)）]|(?:[+＋]|{_digit('0')}{{2}})?{code})"
            national = _typed_digits(str(number.national_number))
            alternatives.append(rf"(?:{prefix}{_SEPARATOR})?{national}")
    if not alternatives:
        return re.compile(r"(?!)")  # matches nothing
    return re.compile("|".join(alternatives), re.IGNORECASE)


def _tombstone(kind: str, ident: str, before: object, reason: str) -> Change:
    """The audit change of an erasure: which fields were erased — never their values."""
    fields: Sequence[str] = [
        name for name in PERSONAL_FIELDS[kind] if getattr(before, name, None) not in (None, "", ())
    ]
    return Change(kind, ident, None, {"erased": list(fields)}, reason=reason)
