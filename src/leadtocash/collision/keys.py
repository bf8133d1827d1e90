"""Dedup keys: the exact, normalized identities a lead or customer is indexed and checked by.

A key is a kind plus a canonical value; its text form ``"<kind>:<value>"`` (``name:华为技术``,
``phone:+8613800138000``, ``email:a@b.com``, ``uscc:91110000600037341L``) is what storage
indexes. Phones go through ``parse_phone`` (E.164, default region CN, extensions dropped),
e-mails through ``parse_email`` and the USCC through ``parse_uscc``: an invalid value is a
``ValidationError`` naming the field, never a silently skipped key.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable

import attrs

from leadtocash.collision.normalize import normalize_company_name
from leadtocash.errors import FieldError, ValidationError
from leadtocash.fields import DEFAULT_REGION, parse_email, parse_phone, parse_uscc
from leadtocash.model import Customer, Lead

__all__ = [
    "DedupKey",
    "KeyKind",
    "candidate_keys",
    "customer_keys",
    "dedup_keys",
    "email_key",
    "key_texts",
    "lead_keys",
    "name_key",
    "phone_key",
    "stored_keys",
    "uscc_key",
]


class KeyKind(enum.StrEnum):
    """What a dedup key identifies by."""

    USCC = "uscc"
    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"


@attrs.frozen(order=True)
class DedupKey:
    """One exact dedup key: a kind and its canonical value."""

    kind: KeyKind = attrs.field(converter=KeyKind)
    value: str

    @property
    def text(self) -> str:
        """The storage form ``"<kind>:<value>"``."""
        return f"{self.kind.value}:{self.value}"

    def __str__(self) -> str:
        return self.text

    @classmethod
    def parse(cls, text: str) -> DedupKey:
        """Read a key back from its storage form; unknown kinds or empty values are rejected."""
        kind, sep, value = text.partition(":")
        if not sep or not value or kind not in {k.value for k in KeyKind}:
            raise ValidationError.single("key", "key.malformed", f"{text!r} is not a dedup key")
        return cls(KeyKind(kind), value)


def name_key(name: str, *, path: str = "name") -> DedupKey:
    """The ``name`` key of a company name; a name without letters or digits is rejected."""
    normalized = normalize_company_name(name)
    if not normalized:
        raise ValidationError.single(
            path, "name.empty", f"{name!r} has no letters or digits to compare by"
        )
    return DedupKey(KeyKind.NAME, normalized)


def phone_key(raw: str, *, path: str = "phone", region: str = DEFAULT_REGION) -> DedupKey:
    """The ``phone`` key: E.164 via ``parse_phone`` (extensions dropped)."""
    return DedupKey(KeyKind.PHONE, parse_phone(raw, path=path, region=region))


def email_key(raw: str, *, path: str = "email") -> DedupKey:
    """The ``email`` key: the trimmed, lower-cased address via ``parse_email``, without a
    plus tag (``Sales+CRM@Example.com`` → ``sales@example.com``)."""
    address = parse_email(raw, path=path)
    local, _, domain = address.rpartition("@")
    base = local.partition("+")[0]
    return DedupKey(KeyKind.EMAIL, f"{base or local}@{domain}")


def uscc_key(raw: str, *, path: str = "uscc") -> DedupKey:
    """The ``uscc`` key: the check-digit-validated code via ``parse_uscc``."""
    return DedupKey(KeyKind.USCC, parse_uscc(raw, path=path))


def candidate_keys(
    *,
    name: str,
    phones: Iterable[str | None] = (),
    emails: Iterable[str | None] = (),
    uscc: str | None = None,
    region: str = DEFAULT_REGION,
    name_path: str = "name",
    phones_path: str = "phones",
    emails_path: str = "emails",
    uscc_path: str = "uscc",
) -> frozenset[DedupKey]:
    """Every key of raw record data; one ValidationError lists all the bad fields.

    ``None`` and blank phones/e-mails are skipped (absent, not invalid). Each phone's error path
    is ``<phones_path>[i]``; pass ``phones_path="phone"`` with one phone to get ``phone[0]``.
    """
    keys: set[DedupKey] = set()
    errors: list[FieldError] = []

    def attempt(build: Callable[[], DedupKey]) -> None:
        try:
            keys.add(build())
        except ValidationError as exc:
            errors.extend(exc.errors)

    attempt(lambda: name_key(name, path=name_path))
    for i, phone in enumerate(phones):
        if phone is not None and phone.strip():
            path = f"{phones_path}[{i}]"
            attempt(functools.partial(phone_key, phone, path=path, region=region))
    for i, email in enumerate(emails):
        if email is not None and email.strip():
            attempt(functools.partial(email_key, email, path=f"{emails_path}[{i}]"))
    if uscc is not None and uscc.strip():
        attempt(functools.partial(uscc_key, uscc, path=uscc_path))
    if errors:
        raise ValidationError(errors)
    return frozenset(keys)


def _single(
    build: Callable[[str, str], DedupKey],
    value: str | None,
    path: str,
    keys: set[DedupKey],
    errors: list[FieldError],
) -> None:
    if value is None or not value.strip():
        return
    try:
        keys.add(build(value, path))
    except ValidationError as exc:
        errors.extend(exc.errors)


def lead_keys(lead: Lead, *, region: str = DEFAULT_REGION) -> frozenset[DedupKey]:
    """A lead's keys (paths ``company_name``, ``phone``, ``email``, ``uscc``)."""
    keys: set[DedupKey] = set()
    errors: list[FieldError] = []
    _single(
        lambda raw, path: name_key(raw, path=path), lead.company_name, "company_name", keys, errors
    )
    _single(
        lambda raw, path: phone_key(raw, path=path, region=region),
        lead.phone,
        "phone",
        keys,
        errors,
    )
    _single(lambda raw, path: email_key(raw, path=path), lead.email, "email", keys, errors)
    _single(lambda raw, path: uscc_key(raw, path=path), lead.uscc, "uscc", keys, errors)
    if errors:
        raise ValidationError(errors)
    return frozenset(keys)


def customer_keys(customer: Customer, *, region: str = DEFAULT_REGION) -> frozenset[DedupKey]:
    """A customer's keys (paths ``name``, ``phones[i]``, ``emails[i]``, ``uscc``)."""
    return candidate_keys(
        name=customer.name,
        phones=customer.phones,
        emails=customer.emails,
        uscc=customer.uscc,
        region=region,
    )


_E164_DIGITS = frozenset("0123456789")


def stored_keys(
    name: str | None,
    phones: Iterable[str | None],
    emails: Iterable[str | None],
    uscc: str | None,
    *,
    region: str = DEFAULT_REGION,
) -> frozenset[DedupKey]:
    """The keys of a *stored* record, whose fields were validated and canonicalized on the way
    in: an E.164 phone (``+8613800138000``) is taken as it is instead of being parsed again
    (the slow part of a check against many candidates); a value that fails is left out."""
    keys: set[DedupKey] = set()
    for raw, build in (
        (name, name_key),
        (uscc, uscc_key),
        *((email, email_key) for email in emails),
    ):
        if raw:
            try:
                keys.add(build(raw))
            except ValidationError:
                continue
    for phone in phones:
        if not phone:
            continue
        if phone.startswith("+") and len(phone) > 8 and set(phone[1:]) <= _E164_DIGITS:
            keys.add(DedupKey(KeyKind.PHONE, phone))
            continue
        try:
            keys.add(phone_key(phone, region=region))
        except ValidationError:
            continue
    return frozenset(keys)


def dedup_keys(record: Lead | Customer, *, region: str = DEFAULT_REGION) -> frozenset[DedupKey]:
    """The keys of a lead or a customer."""
    if isinstance(record, Lead):
        return lead_keys(record, region=region)
    return customer_keys(record, region=region)


def key_texts(keys: Iterable[DedupKey]) -> frozenset[str]:
    """The storage forms of ``keys``."""
    return frozenset(key.text for key in keys)
