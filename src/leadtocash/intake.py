"""Lead intake: turn a channel payload (web form, import row) into a valid Lead.

Validation collects every problem before failing, so one ValidationError lists each bad field
path (``phone``, ``rows[3].email``, …). Required fields are configurable per channel.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

import attrs

from leadtocash.errors import FieldError, ValidationError
from leadtocash.fields import (
    DEFAULT_REGION,
    MAX_LENGTHS,
    collect_field,
    parse_email,
    parse_phone,
    parse_uscc,
    required_errors,
)
from leadtocash.model import Channel, Lead, LeadId, ZoneId

__all__ = ["LEAD_FIELDS", "IntakeRules", "lead_from_payload"]

#: Every key a lead payload may carry.
LEAD_FIELDS = frozenset(
    {"channel", "company_name", "contact_name", "phone", "email", "uscc", "zone_id", "campaign",
     "note", "industry", "employees"}
)  # fmt: skip
#: Payload keys holding a number (the others hold text).
_NUMBERS = frozenset({"employees"})

_MAX_LEN = 500


def _default_required() -> Mapping[Channel, frozenset[str]]:
    return {channel: frozenset({"company_name"}) for channel in Channel}


@attrs.frozen
class IntakeRules:
    """Which payload fields each channel requires, and how phones are read."""

    required: Mapping[Channel, frozenset[str]] = attrs.field(factory=_default_required)
    require_reachable: bool = True
    phone_region: str = DEFAULT_REGION
    reject_unknown_fields: bool = True

    def __attrs_post_init__(self) -> None:
        for channel, names in self.required.items():
            unknown = sorted(set(names) - LEAD_FIELDS)
            if unknown:
                raise ValidationError.single(
                    f"required[{channel.value}]",
                    "intake.unknown_required_field",
                    f"unknown lead fields {unknown}",
                )


def _text(
    payload: Mapping[str, object], key: str, prefix: str, errors: list[FieldError]
) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(
            FieldError(prefix + key, "field.type", f"expected text, got {type(value).__name__}")
        )
        return None
    value = value.strip()
    limit = MAX_LENGTHS.get(key, _MAX_LEN)
    if len(value) > limit:
        errors.append(FieldError(prefix + key, "field.too_long", f"at most {limit} characters"))
        return None
    return value or None


def _count(
    payload: Mapping[str, object], key: str, prefix: str, errors: list[FieldError]
) -> int | None:
    """A whole number >= 0 given as a number or as digits (``"120"``), or None."""
    value = payload.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip().isdecimal():  # what int() reads (１２０ too)
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    errors.append(FieldError(prefix + key, "field.type", "expected a whole number >= 0"))
    return None


def lead_from_payload(
    payload: Mapping[str, object],
    *,
    lead_id: LeadId,
    now: datetime,
    channel: Channel | None = None,
    rules: IntakeRules | None = None,
    path_prefix: str = "",
) -> Lead:
    """Validate ``payload`` and build a new Lead, or raise one ValidationError listing all faults.

    ``channel`` overrides a ``channel`` key in the payload; ``path_prefix`` (e.g. ``rows[3].``)
    is put in front of every reported path.
    """
    rules = rules or IntakeRules()
    p = path_prefix
    errors: list[FieldError] = []
    if not isinstance(payload, Mapping):
        raise ValidationError.single(p.rstrip(".") or "payload", "field.type", "expected a mapping")
    if rules.reject_unknown_fields:
        for key in sorted(str(k) for k in payload if k not in LEAD_FIELDS):
            # a blank key still gets a path that shows it: ``[""]``, ``[" "]``
            where = p + key if key.strip() else f"{p.rstrip('.')}[{json.dumps(key)}]"
            errors.append(FieldError(where, "field.unknown", "unknown field"))

    resolved = channel
    if resolved is None:
        raw_channel = _text(payload, "channel", p, errors)
        if raw_channel is None and not any(e.path == p + "channel" for e in errors):
            errors.append(FieldError(p + "channel", "field.required", "channel is required"))
        elif raw_channel is not None:
            try:
                resolved = Channel(raw_channel)
            except ValueError:
                allowed = ", ".join(c.value for c in Channel)
                errors.append(
                    FieldError(p + "channel", "channel.unknown", f"unknown channel; use {allowed}")
                )

    text = {
        key: _text(payload, key, p, errors) for key in sorted(LEAD_FIELDS - {"channel"} - _NUMBERS)
    }
    employees = _count(payload, "employees", p, errors)
    phone = collect_field(
        errors,
        lambda raw, path: parse_phone(raw, path=path, region=rules.phone_region),
        text["phone"],
        p + "phone",
    )
    email = collect_field(
        errors, lambda raw, path: parse_email(raw, path=path), text["email"], p + "email"
    )
    uscc = collect_field(
        errors, lambda raw, path: parse_uscc(raw, path=path), text["uscc"], p + "uscc"
    )

    reported = {e.path for e in errors}
    required = {"company_name"}
    if resolved is not None:
        required |= rules.required.get(resolved, frozenset()) - {"channel"}
    errors += required_errors(
        sorted(required),
        lambda key: (employees if key in _NUMBERS else text[key]) is not None,
        prefix=p,
        reported=reported,
    )
    reported = {e.path for e in errors}
    unreachable = text["phone"] is None and text["email"] is None
    if rules.require_reachable and unreachable and not {p + "phone", p + "email"} & reported:
        errors.append(
            FieldError(p + "phone", "field.required", "a phone or an e-mail address is required")
        )

    company = text["company_name"]
    if errors or resolved is None or company is None:
        raise ValidationError(errors)
    zone = text["zone_id"]
    return Lead(
        id=lead_id,
        channel=resolved,
        company_name=company,
        created_at=now,
        updated_at=now,
        contact_name=text["contact_name"],
        phone=phone,
        email=email,
        uscc=uscc,
        zone_id=ZoneId(zone) if zone else None,
        campaign=text["campaign"],
        note=text["note"],
        industry=text["industry"],
        employees=employees,
    )
