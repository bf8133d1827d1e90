"""Lead lifecycle: new → working → qualified → converted | disqualified (reason required).

One shared state table per distinct :class:`LeadRules` (the default one is built at import);
entering a status checks the fields the rules require for it. Applying a trigger returns the
evolved lead and its history entry; an illegal trigger raises InvalidTransition.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import attrs

from leadtocash.errors import FieldError, ValidationError
from leadtocash.model import Lead, LeadStatus
from leadtocash.pipeline.machine import Edge, RequiredFields, StageChange, StateTable

__all__ = [
    "DEFAULT_LEAD_RULES",
    "LEAD_TABLE",
    "LeadRules",
    "LeadTrigger",
    "apply_lead_trigger",
    "lead_table",
    "require_reason",
]


class LeadTrigger(enum.StrEnum):
    """Triggers of the lead lifecycle."""

    START_WORKING = "start_working"
    QUALIFY = "qualify"
    DISQUALIFY = "disqualify"
    CONVERT = "convert"


_LEAD_FIELDS = frozenset(attrs.fields_dict(Lead))

Required = tuple[tuple[LeadStatus, tuple[str, ...]], ...]


def _freeze(
    value: Mapping[LeadStatus, Sequence[str]] | Iterable[tuple[LeadStatus, Sequence[str]]],
) -> Required:
    items = value.items() if isinstance(value, Mapping) else value
    frozen: dict[LeadStatus, tuple[str, ...]] = {}
    for status, fields in items:
        if status not in {s.value for s in LeadStatus}:
            raise ValidationError.single(
                "required", "pipeline.unknown_stage", f"{status!r} is not a lead status"
            )
        frozen[LeadStatus(status)] = tuple(fields)
    return tuple(sorted(frozen.items()))


def _check_required(_inst: object, _attr: object, value: Required) -> None:
    errors = [
        FieldError(f"required.{status.value}", "pipeline.unknown_field", f"lead has no {name!r}")
        for status, fields in value
        for name in fields
        if name not in _LEAD_FIELDS
    ]
    if errors:
        raise ValidationError(errors)


def _reasons(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class LeadRules:
    """Per-status required lead fields, and the allowed disqualify reasons (empty = free text)."""

    required: Required = attrs.field(
        default=(
            (LeadStatus.QUALIFIED, ("contact_name",)),
            (LeadStatus.CONVERTED, ("contact_name",)),
        ),
        converter=_freeze,
        validator=_check_required,
    )
    disqualify_reasons: tuple[str, ...] = attrs.field(default=(), converter=_reasons)
    _table: StateTable = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_table", _shared_table(self))

    def fields_for(self, status: LeadStatus) -> tuple[str, ...]:
        """Fields that must be filled before a lead enters ``status``."""
        return dict(self.required).get(status, ())


def _edges(rules: LeadRules) -> list[Edge]:
    def edge(trigger: LeadTrigger, source: LeadStatus, dest: LeadStatus) -> Edge:
        fields = rules.fields_for(dest)
        conditions = (RequiredFields(dest.value, fields),) if fields else ()
        return Edge(trigger.value, source.value, dest.value, conditions)

    s = LeadStatus
    return [
        edge(LeadTrigger.START_WORKING, s.NEW, s.WORKING),
        edge(LeadTrigger.QUALIFY, s.WORKING, s.QUALIFIED),
        *(
            edge(LeadTrigger.DISQUALIFY, src, s.DISQUALIFIED)
            for src in (s.NEW, s.WORKING, s.QUALIFIED)
        ),
        edge(LeadTrigger.CONVERT, s.QUALIFIED, s.CONVERTED),
    ]


_TABLES: dict[LeadRules, StateTable] = {}


def _shared_table(rules: LeadRules) -> StateTable:
    table = _TABLES.get(rules)
    if table is None:
        states = [status.value for status in LeadStatus]
        table = _TABLES.setdefault(
            rules, StateTable("lead", states, _edges(rules), LeadStatus.NEW.value)
        )
    return table


def lead_table(rules: LeadRules) -> StateTable:
    """The shared lead state table for ``rules``: equal rule sets share one machine."""
    return rules._table


#: The default rules (qualifying and converting need a contact name).
DEFAULT_LEAD_RULES = LeadRules()

#: The lead state table of the default rules, built at import time.
LEAD_TABLE = lead_table(DEFAULT_LEAD_RULES)


def require_reason(reason: str | None, allowed: Sequence[str] = (), *, path: str = "reason") -> str:
    """The trimmed reason; blank, or not in a non-empty ``allowed`` list, is a ValidationError."""
    text = (reason or "").strip()
    if not text:
        raise ValidationError.single(path, "field.required", "a reason is required")
    if allowed and text not in allowed:
        raise ValidationError.single(
            path, "pipeline.reason_not_allowed", f"{text!r} is not one of: {', '.join(allowed)}"
        )
    return text


def apply_lead_trigger(
    lead: Lead,
    trigger: str,
    *,
    at: datetime,
    actor: str,
    reason: str | None = None,
    rules: LeadRules = DEFAULT_LEAD_RULES,
) -> tuple[Lead, StageChange]:
    """Fire ``trigger`` on ``lead``: the evolved lead and its history entry (input untouched)."""
    source = lead.status.value
    dest = lead_table(rules).target(source, trigger, lead)
    updates: dict[str, object] = {"status": LeadStatus(dest), "updated_at": at}
    if dest == LeadStatus.DISQUALIFIED:
        reason = require_reason(reason, rules.disqualify_reasons)
        updates["disqualify_reason"] = reason
    after = attrs.evolve(lead, **updates)  # type: ignore[arg-type]
    return after, StageChange(source, dest, str(trigger), at, actor, reason)
