"""Opportunity stage flows: stages, probabilities, forecast categories and their state tables.

The default flow follows the seeds: 初步接触 initial contact → 需求分析 needs analysis → 报价
quotation → 签约 signing → 赢单 won | 输单 lost, with ``reopen`` from lost. Organisations define
their own :class:`StageFlow`; it is validated when built (unique names, probabilities 0..100,
no orphan stage, won and lost reachable from every open stage) and gets ONE shared state table
per distinct flow, never one per opportunity.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

import attrs

from leadtocash.errors import FieldError, ValidationError
from leadtocash.pipeline.machine import Edge, Guard, RequiredFields, StateTable
from leadtocash.pipeline.opportunity import Opportunity

__all__ = [
    "DEFAULT_FLOW",
    "DEFAULT_LOST_REASONS",
    "ForecastCategory",
    "Stage",
    "StageFlow",
    "StageKind",
    "Step",
    "flow_table",
]

_FIELDS = frozenset(attrs.fields_dict(Opportunity))


class StageKind(enum.StrEnum):
    """Whether a stage is open, or closes the deal as won or lost."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


class ForecastCategory(enum.StrEnum):
    """Forecast bucket of a stage (pipeline / best case / commit / closed / omitted)."""

    PIPELINE = "pipeline"
    BEST_CASE = "best_case"
    COMMIT = "commit"
    CLOSED = "closed"
    OMITTED = "omitted"


def _percent(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    return Decimal("NaN")  # reported by the stage's own validation, which names the stage


def _tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _guards(value: Iterable[Guard]) -> tuple[Guard, ...]:
    return tuple(value)


def _stages(value: Iterable[Stage]) -> tuple[Stage, ...]:
    return tuple(value)


def _steps(value: Iterable[Step]) -> tuple[Step, ...]:
    return tuple(value)


@attrs.frozen
class Stage:
    """One stage: name, kind, win probability (Decimal percent), forecast category, guards."""

    name: str
    probability: Decimal = attrs.field(converter=_percent)
    category: ForecastCategory = ForecastCategory.PIPELINE
    kind: StageKind = StageKind.OPEN
    label: str = ""
    required_fields: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    guards: tuple[Guard, ...] = attrs.field(default=(), converter=_guards)

    def problems(self) -> list[FieldError]:
        """Everything wrong with this stage on its own (paths name the stage)."""
        where = f"stages[{self.name}]"
        found = []
        if not self.name or not self.name.strip():
            found.append(FieldError(where, "field.required", "stage names must not be blank"))
        p = self.probability
        if not p.is_finite() or not Decimal(0) <= p <= Decimal(100):
            found.append(
                FieldError(
                    f"{where}.probability",
                    "pipeline.probability",
                    f"stage {self.name!r}: probability must be a number in 0..100 (no floats)",
                )
            )
        for name in self.required_fields:
            if name not in _FIELDS and not (name.startswith("custom.") and len(name) > 7):
                found.append(
                    FieldError(
                        f"{where}.required_fields",
                        "pipeline.unknown_field",
                        f"stage {self.name!r}: opportunities have no field {name!r}",
                    )
                )
        return found


@attrs.frozen
class Step:
    """A flow transition: ``trigger`` moves an opportunity from ``source`` to ``dest``."""

    trigger: str
    source: str
    dest: str


#: Default lost reasons (输单原因); a flow with an empty list accepts any non-blank reason.
DEFAULT_LOST_REASONS = (
    "price", "competitor", "no_budget", "no_decision", "timing", "requirements", "other",
)  # fmt: skip


def _default_steps(stages: tuple[Stage, ...], reopen_to: str | None) -> tuple[Step, ...]:
    open_names = [s.name for s in stages if s.kind is StageKind.OPEN]
    won = [s.name for s in stages if s.kind is StageKind.WON]
    lost = [s.name for s in stages if s.kind is StageKind.LOST]
    steps = [Step("advance", a, b) for a, b in itertools.pairwise(open_names)]
    if open_names and won:
        steps.append(Step("win", open_names[-1], won[0]))
    if lost:
        steps.extend(Step("lose", name, lost[0]) for name in open_names)
        if open_names:
            steps.append(Step("reopen", lost[0], reopen_to or open_names[0]))
    return tuple(steps)


def _reachable(start: str, edges: Mapping[str, set[str]]) -> set[str]:
    seen, pending = {start}, [start]
    while pending:
        for nxt in edges.get(pending.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                pending.append(nxt)
    return seen


@attrs.frozen
class StageFlow:
    """An organisation's stage flow: ordered stages (first = initial), steps and lost reasons.

    ``steps`` empty means the default shape: ``advance`` through the open stages in order,
    ``win`` from the last open stage, ``lose`` from every open stage and ``reopen`` from lost
    to ``reopen_to`` (default: the first stage). Invalid flows raise ValidationError.
    """

    name: str
    stages: tuple[Stage, ...] = attrs.field(converter=_stages)
    steps: tuple[Step, ...] = attrs.field(default=(), converter=_steps)
    lost_reasons: tuple[str, ...] = attrs.field(default=DEFAULT_LOST_REASONS, converter=_tuple)
    reopen_to: str | None = None
    _by_name: Mapping[str, Stage] = attrs.field(init=False, eq=False, repr=False)
    _rank: Mapping[str, int] = attrs.field(init=False, eq=False, repr=False)
    _table: StateTable = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not self.steps:
            object.__setattr__(self, "steps", _default_steps(self.stages, self.reopen_to))
        object.__setattr__(self, "_by_name", {s.name: s for s in self.stages})
        open_names = [s.name for s in self.stages if s.kind is StageKind.OPEN]
        object.__setattr__(self, "_rank", {n: i for i, n in enumerate(open_names, start=1)})
        errors = self._problems()
        if errors:
            raise ValidationError(errors)
        object.__setattr__(self, "_table", _shared_table(self))

    def _problems(self) -> list[FieldError]:
        errors: list[FieldError] = []
        if not self.name.strip():
            errors.append(FieldError("name", "field.required", "a flow needs a name"))
        seen: set[str] = set()
        for stage in self.stages:
            errors.extend(stage.problems())
            if stage.name in seen:
                errors.append(
                    FieldError(
                        f"stages[{stage.name}]",
                        "pipeline.duplicate_stage",
                        f"stage name {stage.name!r} is used more than once",
                    )
                )
            seen.add(stage.name)
        if not self.stages or self.stages[0].kind is not StageKind.OPEN:
            first = self.stages[0].name if self.stages else "?"
            errors.append(
                FieldError(f"stages[{first}]", "pipeline.initial", "the first stage must be open")
            )
        for kind in (StageKind.WON, StageKind.LOST):
            count = sum(1 for s in self.stages if s.kind is kind)
            if count != 1:
                errors.append(
                    FieldError("stages", "pipeline.terminal", f"need exactly one {kind} stage")
                )
        if errors:
            return errors
        return self._step_problems()

    def _step_problems(self) -> list[FieldError]:
        errors: list[FieldError] = []
        seen: set[tuple[str, str]] = set()
        graph: dict[str, set[str]] = {}
        for i, step in enumerate(self.steps):
            path = f"steps[{i}]"
            unknown = [n for n in (step.source, step.dest) if n not in self._by_name]
            if unknown or not step.trigger.strip():
                errors.append(
                    FieldError(path, "pipeline.step", f"bad step {step}: unknown {unknown}")
                )
                continue
            if (step.trigger, step.source) in seen:
                errors.append(
                    FieldError(
                        path,
                        "pipeline.step",
                        f"stage {step.source!r} has two {step.trigger!r} steps",
                    )
                )
            if step.source == self.won_stage:
                errors.append(
                    FieldError(f"stages[{step.source}]", "pipeline.won_final", "won is final")
                )
            seen.add((step.trigger, step.source))
            graph.setdefault(step.source, set()).add(step.dest)
        initial = self.stages[0].name
        reachable = _reachable(initial, graph)
        for stage in self.stages:
            where = f"stages[{stage.name}]"
            if stage.name not in reachable:
                errors.append(
                    FieldError(
                        where, "pipeline.orphan_stage",
                        f"stage {stage.name!r} cannot be reached from {initial!r}",
                    )
                )  # fmt: skip
            if stage.kind is StageKind.OPEN:
                ahead = _reachable(stage.name, graph)
                for end in (self.won_stage, self.lost_stage):
                    if end not in ahead:
                        errors.append(
                            FieldError(
                                where, "pipeline.dead_end",
                                f"stage {stage.name!r} cannot reach {end!r}",
                            )
                        )  # fmt: skip
        if any(not r.strip() for r in self.lost_reasons):
            errors.append(FieldError("lost_reasons", "field.required", "blank lost reason"))
        return errors

    @property
    def initial(self) -> str:
        """The stage new opportunities start in."""
        return self.stages[0].name

    @property
    def won_stage(self) -> str:
        """Name of the won stage."""
        return next(s.name for s in self.stages if s.kind is StageKind.WON)

    @property
    def lost_stage(self) -> str:
        """Name of the lost stage."""
        return next(s.name for s in self.stages if s.kind is StageKind.LOST)

    @property
    def open_stages(self) -> tuple[str, ...]:
        """Names of the open stages, in flow order."""
        return tuple(self._rank)

    def stage(self, name: str) -> Stage:
        """The stage called ``name``; ValidationError when the flow has none."""
        found = self._by_name.get(name)
        if found is None:
            raise ValidationError.single(
                "stage", "pipeline.unknown_stage", f"flow {self.name!r} has no stage {name!r}"
            )
        return found

    def has_stage(self, name: str) -> bool:
        """True when the flow has a stage called ``name``."""
        return name in self._by_name

    def rank(self, name: str) -> int | None:
        """1-based position among open stages (the customer's ``open_opportunity_stage``)."""
        return self._rank.get(name)

    def order(self, name: str) -> int:
        """Funnel order: open stages 1..n, won n+1, lost 0."""
        rank = self._rank.get(name)
        if rank is not None:
            return rank
        return len(self._rank) + 1 if name == self.won_stage else 0

    def is_open(self, name: str) -> bool:
        """True for open (not yet won or lost) stages."""
        return name in self._rank


_TABLES: dict[StageFlow, StateTable] = {}


def _shared_table(flow: StageFlow) -> StateTable:
    table = _TABLES.get(flow)
    if table is None:
        edges = []
        for step in flow.steps:
            dest = flow.stage(step.dest)
            conditions: list[RequiredFields | Guard] = []
            if dest.required_fields:
                conditions.append(RequiredFields(dest.name, dest.required_fields))
            conditions.extend(dest.guards)
            edges.append(Edge(step.trigger, step.source, step.dest, tuple(conditions)))
        states = [s.name for s in flow.stages]
        table = _TABLES.setdefault(flow, StateTable("opportunity", states, edges, flow.initial))
    return table


def flow_table(flow: StageFlow) -> StateTable:
    """The one shared state table of ``flow``: equal flows share one machine, built once."""
    return flow._table


#: The default flow from the seeds.
DEFAULT_FLOW = StageFlow(
    "default",
    (
        Stage("initial_contact", 10, ForecastCategory.PIPELINE, label="初步接触"),
        Stage("needs_analysis", 25, ForecastCategory.PIPELINE, label="需求分析"),
        Stage("quotation", 50, ForecastCategory.BEST_CASE, label="报价",
              required_fields=("contact_id",)),
        Stage("signing", 80, ForecastCategory.COMMIT, label="签约"),
        Stage("won", 100, ForecastCategory.CLOSED, StageKind.WON, label="赢单"),
        Stage("lost", 0, ForecastCategory.OMITTED, StageKind.LOST, label="输单"),
    ),
)  # fmt: skip
