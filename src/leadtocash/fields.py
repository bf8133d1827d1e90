"""Field-level parsers for contact data: phones (E.164), e-mails and the USCC.

Each returns the canonical form or raises ValidationError naming the field path it was given.
Phone parsing uses ``phonenumbers``; the unified social credit code (统一社会信用代码,
GB 32100-2015) check digit uses ``python-stdnum``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Collection, Iterable, Mapping

import phonenumbers
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import uscc as stdnum_uscc

from leadtocash.errors import FieldError, ValidationError

__all__ = [
    "ADDRESS_MAX",
    "DEFAULT_REGION",
    "MAX_LENGTHS",
    "NAME_MAX",
    "PERSONAL_FIELDS",
    "TEXT_MAX",
    "TITLE_MAX",
    "collect_field",
    "length_errors",
    "parse_email",
    "parse_phone",
    "parse_uscc",
    "required_errors",
]

#: Region assumed for phone numbers written without a country code.
DEFAULT_REGION = "CN"

#: Maximum lengths, in characters after trimming, of names and free text (docs/customers.md).
NAME_MAX = 200  # company, contact and campaign names
TITLE_MAX = 100  # a contact's job title
ADDRESS_MAX = 500
TEXT_MAX = 2000  # notes, follow-up notes and plans, reasons

#: The maximum length of each named text field; a longer value is ``field.too_long``.
MAX_LENGTHS: Mapping[str, int] = {
    "name": NAME_MAX,
    "company_name": NAME_MAX,
    "contact_name": NAME_MAX,
    "campaign": NAME_MAX,
    "title": TITLE_MAX,
    "address": ADDRESS_MAX,
    "note": TEXT_MAX,
    "plan": TEXT_MAX,
    "reason": TEXT_MAX,
}

#: The fields of each aggregate kind that hold a natural person's data (PIPL / GDPR): what
#: is masked for those who may not see contact fields, committed to by salted hashes in
#: audit entries, and erased on request. A customer's name is its company's, not personal.
PERSONAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "customer": ("phones", "emails", "address"),
    "contact": ("name", "phone", "email"),
    # a lead's note is what the prospect wrote or said (a web form's message, a call's gist)
    "lead": ("contact_name", "phone", "email", "note"),
    # what was said and planned: free text that often holds names and numbers
    "follow_up": ("note", "plan"),
    # what the customer reported and was told: the texts people wrote on a ticket
    "ticket": ("subject", "description", "history", "satisfaction"),
}

_USCC_ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


# Chinese extension markers (010-88886666转123, 分机 123) and a trailing "-123" extension.
_EXTENSION_MARK = re.compile(r"\s*(?:转|轉|分机|分機)\s*(?=\d{1,6}\s*$)")
_TRAILING_EXTENSION = re.compile(r"^(.*\d)\s*[-－]\s*\d{1,5}\s*$")


def parse_phone(raw: str, *, path: str = "phone", region: str = DEFAULT_REGION) -> str:
    """Canonical E.164 form of ``raw`` (extensions dropped); invalid numbers are rejected.

    Extensions written ``转123``/``分机123``/``ext. 123`` are dropped; so is a trailing
    ``-123`` when the number is only valid without it (``010-88886666-123``).
    """
    text = _EXTENSION_MARK.sub(" ext. ", raw)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValidationError.single(
            path, "phone.unparseable", f"{raw!r} is not a phone number"
        ) from None
    if not phonenumbers.is_valid_number(number) and (head := _TRAILING_EXTENSION.match(text)):
        with contextlib.suppress(phonenumbers.NumberParseException):
            number = phonenumbers.parse(head.group(1), region)
    if not phonenumbers.is_valid_number(number):
        raise ValidationError.single(path, "phone.invalid", f"{raw!r} is not a valid number")
    number.extension = None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_email(raw: str, *, path: str = "email") -> str:
    """Trimmed, lower-cased e-mail address; rejects anything without user@domain.tld."""
    candidate = raw.strip().lower()
    if not _EMAIL.match(candidate):
        raise ValidationError.single(path, "email.malformed", f"{raw!r} is not an e-mail address")
    return candidate


def parse_uscc(raw: str, *, path: str = "uscc") -> str:
    """The 18-character USCC in upper case; a bad length, alphabet or check digit is rejected.

    Layout per GB 32100-2015: registration authority (1 char, digit or letter such as Y),
    entity type (1), administrative region (6 digits), organisation code (9), check digit.
    python-stdnum computes the check digit; its own ``validate`` insists on eight leading
    digits and so refuses valid codes of letter-coded authorities, hence the format check here.
    """

    def invalid(reason: str) -> ValidationError:
        return ValidationError.single(
            path, "uscc.invalid", f"{raw!r} is not a valid unified social credit code ({reason})"
        )

    code = str(stdnum_uscc.compact(raw))
    if len(code) != 18:
        raise invalid("it must have 18 characters")
    if any(c not in _USCC_ALPHABET for c in code) or not code[2:8].isdigit():
        raise invalid("invalid characters")
    try:
        check = str(stdnum_uscc.calc_check_digit(code[:17]))
    except (ValueError, stdnum_exceptions.ValidationError):
        raise invalid("invalid characters") from None
    if code[17] != check:
        raise invalid("wrong check digit")
    return code


def collect_field(
    errors: list[FieldError],
    parse: Callable[[str, str], str],
    raw: str | None,
    path: str,
) -> str | None:
    """Run ``parse(raw, path)``; on ValidationError add its field errors and return None.

    Lets a caller validate many fields and report every fault in one ValidationError.
    """
    if raw is None:
        return None
    try:
        return parse(raw, path)
    except ValidationError as exc:
        errors.extend(exc.errors)
        return None


def required_errors(
    paths: Iterable[str],
    filled: Callable[[str], bool],
    *,
    prefix: str = "",
    reported: Collection[str] = (),
) -> list[FieldError]:
    """One ``field.required`` error per path of ``paths`` that is not ``filled``.

    The one required-fields check of the library: lead intake (keys of a payload) and the
    classification's required fields (paths of an entity) both report through it. Paths in
    ``reported`` (already wrong for another reason) are not reported twice.
    """
    return [
        FieldError(prefix + path, "field.required", f"{path} is required")
        for path in paths
        if prefix + path not in reported and not filled(path)
    ]


def length_errors(
    values: Mapping[str, str | None],
    *,
    prefix: str = "",
    limits: Mapping[str, int] = MAX_LENGTHS,
) -> list[FieldError]:
    """One ``field.too_long`` error per value longer (after trimming) than its field's limit.

    ``values`` maps field names (the keys of ``limits``) to text; each error's path is
    ``prefix`` + the field name.
    """
    errors = []
    for name, value in values.items():
        limit = limits[name]
        if value is not None and len(value.strip()) > limit:
            errors.append(
                FieldError(prefix + name, "field.too_long", f"{name}: at most {limit} characters")
            )
    return errors
