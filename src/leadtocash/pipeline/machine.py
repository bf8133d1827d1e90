"""Shared state tables on ``transitions``: one machine per aggregate type (or stage flow).

Entities never carry a machine. A :class:`StateTable` wraps one ``transitions.Machine`` built
with ``model=None``; applying a trigger asks that machine whether the trigger is legal from
the entity's state, evaluates the transition's conditions (required fields and named guards)
against the entity, and returns the destination. The caller then evolves the frozen entity
and appends a :class:`StageChange` to its history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
from transitions import Machine

from leadtocash.errors import FieldError, InvalidTransition, RuleViolation, ValidationError
from leadtocash.model import utc

__all__ = [
    "GUARD_FAILED_CODE",
    "Edge",
    "Guard",
    "RequiredFields",
    "StageChange",
    "StateTable",
    "field_present",
]

#: Error code of a transition refused by a custom guard.
GUARD_FAILED_CODE = "pipeline.guard_failed"


@attrs.frozen
class StageChange:
    """One history entry: a trigger moved an entity from one state to another, when and by whom."""

    stage_from: str | None
    stage_to: str
    trigger: str
    at: datetime = attrs.field(validator=utc)
    actor: str
    reason: str | None = None


def field_present(entity: Any, path: str) -> bool:
    """True when ``path`` (an attribute, or ``custom.<key>``) holds a non-blank value."""
    if path.startswith("custom."):
        custom = getattr(entity, "custom", None)
        value = custom.get(path[7:]) if isinstance(custom, Mapping) else None
    else:
        value = getattr(entity, path, None)
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, tuple | frozenset | list | dict):
        return bool(value)
    return True


@attrs.frozen
class RequiredFields:
    """Condition: the listed fields must be filled before entering ``stage``."""

    stage: str
    fields: tuple[str, ...]

    @property
    def name(self) -> str:
        """Label shown on diagrams."""
        return f"requires {', '.join(self.fields)}"

    def problems(self, entity: Any) -> list[FieldError]:
        """One FieldError per missing field, in declaration order."""
        return [
            FieldError(path, "field.required", f"{path} is required to enter {self.stage}")
            for path in self.fields
            if not field_present(entity, path)
        ]


@attrs.frozen
class Guard:
    """A named custom condition: ``check(entity)`` returns a refusal message, or None to allow."""

    name: str
    check: Callable[[Any], str | None]

    def refusal(self, entity: Any) -> str | None:
        """The refusal message for ``entity`` (None when the guard passes)."""
        return self.check(entity)


Condition = RequiredFields | Guard


@attrs.frozen
class Edge:
    """One row of a state table: ``trigger`` moves ``source`` to ``dest`` if conditions pass."""

    trigger: str
    source: str
    dest: str
    conditions: tuple[Condition, ...] = ()


class StateTable:
    """One shared ``transitions.Machine`` (``model=None``) answering legality for many entities."""

    __slots__ = ("_events", "edges", "entity", "initial", "machine", "states")

    def __init__(
        self, entity: str, states: Sequence[str], edges: Iterable[Edge], initial: str
    ) -> None:
        self.entity = entity
        self.states = tuple(states)
        self.edges = tuple(edges)
        self.initial = initial
        self.machine = Machine(
            model=None,
            states=list(self.states),
            transitions=[
                {
                    "trigger": e.trigger,
                    "source": e.source,
                    "dest": e.dest,
                    "conditions": list(e.conditions),
                }
                for e in self.edges
            ],
            initial=initial,
            auto_transitions=False,
        )
        self._events: Mapping[str, Any] = self.machine.events

    def allowed(self, state: str) -> tuple[str, ...]:
        """Triggers legal from ``state`` (conditions not evaluated), in table order."""
        return tuple(self.machine.get_triggers(state))

    def is_legal(self, state: str, trigger: str) -> bool:
        """True when the table has a transition for ``trigger`` from ``state``."""
        event = self._events.get(trigger)
        return event is not None and bool(event.transitions.get(state))

    def target(self, state: str, trigger: str, entity: Any = None) -> str:
        """The state ``trigger`` leads to from ``state``; checks conditions when given an entity.

        Raises InvalidTransition (naming state, trigger and allowed triggers) when the trigger
        is illegal; ValidationError listing every missing required field; RuleViolation
        (``pipeline.guard_failed``) when a custom guard refuses.
        """
        event = self._events.get(trigger)
        found = event.transitions.get(state) if event is not None else None
        if not found:
            raise InvalidTransition(self.entity, state, trigger, self.allowed(state))
        transition = found[0]
        if entity is not None and transition.conditions:
            self._check([c.func for c in transition.conditions], entity, state, trigger)
        dest: str = transition.dest
        return dest

    def _check(self, conditions: list[Condition], entity: Any, state: str, trigger: str) -> None:
        missing: list[FieldError] = []
        for condition in conditions:
            if isinstance(condition, RequiredFields):
                missing.extend(condition.problems(entity))
        if missing:
            raise ValidationError(missing)
        for condition in conditions:
            if isinstance(condition, Guard):
                why = condition.refusal(entity)
                if why is not None:
                    raise RuleViolation(
                        f"{self.entity} cannot {trigger!r} from {state!r}: {why}",
                        code=GUARD_FAILED_CODE,
                        details={
                            "entity": self.entity,
                            "state": state,
                            "trigger": trigger,
                            "guard": condition.name,
                            "reason": why,
                        },
                    )

    def triggers_to(self, state: str, dest: str) -> tuple[str, ...]:
        """Triggers that lead from ``state`` straight to ``dest``."""
        return tuple(e.trigger for e in self.edges if e.source == state and e.dest == dest)

    def replay(self, history: Sequence[StageChange], start: str | None = None) -> str:
        """Check ``history`` step by step against the table and return the state it ends in.

        The first entry may be a creation entry (``stage_from`` None); entries must chain
        (each starts where the previous ended), be legal, and be in time order.
        """
        state = start if start is not None else self.initial
        previous: datetime | None = None
        for index, change in enumerate(history):
            problem = None
            if previous is not None and change.at < previous:
                problem = "entries are out of time order"
            elif change.stage_from is None:
                if index != 0 or change.stage_to not in self.states:
                    problem = "only the first entry may create the entity"
            elif change.stage_from != state:
                problem = f"starts in {change.stage_from!r}, expected {state!r}"
            elif not self.is_legal(state, change.trigger):
                problem = f"{change.trigger!r} is not legal from {state!r}"
            elif self.target(state, change.trigger) != change.stage_to:
                problem = f"{change.trigger!r} does not lead to {change.stage_to!r}"
            if problem is not None:
                raise ValidationError.single(
                    f"history[{index}]", "pipeline.history_inconsistent", problem
                )
            state, previous = change.stage_to, change.at
        return state
