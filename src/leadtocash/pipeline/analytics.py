"""Pipeline analytics as pure functions over opportunities: plain frozen data, no floats.

Time in stage, cycle length, funnel and stage-to-stage conversion, win rate, velocity,
weighted pipeline, forecast by close month and category, rep performance. Money stays per
currency (never summed across currencies); rates are Decimals rounded half-even to 4 places.
Each function takes the flow (or a mapping of flows by name) the opportunities follow.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import attrs

from leadtocash.errors import ValidationError
from leadtocash.model import RepId
from leadtocash.money import Money
from leadtocash.pipeline.flows import DEFAULT_FLOW, ForecastCategory, StageFlow, StageKind
from leadtocash.pipeline.opportunity import Opportunity

__all__ = [
    "Flows",
    "ForecastRow",
    "FunnelStage",
    "RepPerformance",
    "StageConversion",
    "StageTime",
    "Velocity",
    "cycle_length",
    "forecast",
    "funnel",
    "rate",
    "rep_performance",
    "stage_conversion",
    "stage_times",
    "time_in_stage",
    "velocity",
    "weighted_pipeline",
    "win_rate",
]

#: One flow, or the organisation's flows by name.
Flows = StageFlow | Mapping[str, StageFlow]

_PLACES = Decimal("0.0001")
_DAY = Decimal(86400)
_HUNDRED = Decimal(100)


def rate(part: int, whole: int) -> Decimal | None:
    """``part / whole`` rounded half-even to 4 places; None when ``whole`` is 0."""
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_PLACES, rounding=ROUND_HALF_EVEN)


def _resolver(flows: Flows) -> Callable[[Opportunity], StageFlow]:
    by_name = {flows.name: flows} if isinstance(flows, StageFlow) else dict(flows)

    def flow_of(opportunity: Opportunity) -> StageFlow:
        found = by_name.get(opportunity.flow)
        if found is None:
            raise ValidationError.single(
                "flow", "pipeline.unknown_flow", f"no flow {opportunity.flow!r} given"
            )
        return found

    return flow_of


def _kind(opportunity: Opportunity, flow: StageFlow) -> StageKind:
    return flow.stage(opportunity.stage).kind


# -- time ------------------------------------------------------------------------------------
def time_in_stage(
    opportunity: Opportunity, *, now: datetime, flow: StageFlow = DEFAULT_FLOW
) -> dict[str, timedelta]:
    """Total time spent in each open stage (the current open stage counts up to ``now``)."""
    spent: dict[str, timedelta] = {}
    history = opportunity.history
    for index, change in enumerate(history):
        stage = change.stage_to
        if not flow.is_open(stage):
            continue
        end = history[index + 1].at if index + 1 < len(history) else now
        spent[stage] = spent.get(stage, timedelta(0)) + max(end - change.at, timedelta(0))
    return spent


@attrs.frozen
class StageTime:
    """How long opportunities stayed in one stage: visits counted, total and average."""

    stage: str
    opportunities: int
    total: timedelta
    average: timedelta | None


def stage_times(
    opportunities: Iterable[Opportunity], *, now: datetime, flow: StageFlow = DEFAULT_FLOW
) -> tuple[StageTime, ...]:
    """Average time in each open stage over the opportunities of ``flow``, in flow order."""
    totals: dict[str, timedelta] = defaultdict(timedelta)
    counts: dict[str, int] = defaultdict(int)
    for opportunity in opportunities:
        if opportunity.flow != flow.name:
            continue
        for stage, spent in time_in_stage(opportunity, now=now, flow=flow).items():
            totals[stage] += spent
            counts[stage] += 1
    return tuple(
        StageTime(s, counts[s], totals[s], totals[s] / counts[s] if counts[s] else None)
        for s in flow.open_stages
    )


def cycle_length(opportunity: Opportunity) -> timedelta | None:
    """Creation to close (won or lost); None while the opportunity is open."""
    if opportunity.closed_at is None:
        return None
    return opportunity.closed_at - opportunity.created_at


# -- funnel ----------------------------------------------------------------------------------
@attrs.frozen
class FunnelStage:
    """One funnel row: opportunities that entered the stage, went beyond it, and were won.

    ``entered >= advanced >= won`` always holds: a won deal went beyond every stage it entered.
    """

    stage: str
    label: str
    entered: int
    advanced: int
    won: int

    @property
    def advance_rate(self) -> Decimal | None:
        """advanced / entered."""
        return rate(self.advanced, self.entered)

    @property
    def win_rate(self) -> Decimal | None:
        """won / entered."""
        return rate(self.won, self.entered)


def funnel(
    opportunities: Iterable[Opportunity], flow: StageFlow = DEFAULT_FLOW
) -> tuple[FunnelStage, ...]:
    """Funnel rows for the open stages and the won stage of ``flow``, in flow order."""
    rows = [*flow.open_stages, flow.won_stage]
    entered: dict[str, int] = dict.fromkeys(rows, 0)
    advanced: dict[str, int] = dict.fromkeys(rows, 0)
    won: dict[str, int] = dict.fromkeys(rows, 0)
    for opportunity in opportunities:
        if opportunity.flow != flow.name:
            continue
        is_won = _kind(opportunity, flow) is StageKind.WON
        first_at: dict[str, int] = {}
        best_after: list[int] = []  # highest funnel order reached at or after each entry
        orders = [flow.order(c.stage_to) for c in opportunity.history]
        highest = 0
        for order in reversed(orders):
            highest = max(highest, order)
            best_after.append(highest)
        best_after.reverse()
        for index, change in enumerate(opportunity.history):
            first_at.setdefault(change.stage_to, index)
        for stage in rows:
            at = first_at.get(stage)
            if at is None:
                continue
            entered[stage] += 1
            if stage == flow.won_stage or best_after[at] > flow.order(stage):
                advanced[stage] += 1
            won[stage] += is_won
    labels = {s: flow.stage(s).label for s in rows}
    return tuple(FunnelStage(s, labels[s], entered[s], advanced[s], won[s]) for s in rows)


@attrs.frozen
class StageConversion:
    """Of the opportunities that entered ``stage_from``, how many later entered ``stage_to``."""

    stage_from: str
    stage_to: str
    entered: int
    converted: int
    rate: Decimal | None


def stage_conversion(
    opportunities: Iterable[Opportunity], flow: StageFlow = DEFAULT_FLOW
) -> tuple[StageConversion, ...]:
    """Conversion between consecutive stages (open stages in order, then won)."""
    chain = [*flow.open_stages, flow.won_stage]
    pairs = list(itertools.pairwise(chain))
    entered: dict[str, int] = defaultdict(int)
    converted: dict[tuple[str, str], int] = defaultdict(int)
    for opportunity in opportunities:
        if opportunity.flow != flow.name:
            continue
        stages = [c.stage_to for c in opportunity.history]
        first: dict[str, int] = {}
        for index, stage in enumerate(stages):
            first.setdefault(stage, index)
        for stage in first:
            entered[stage] += 1
        for a, b in pairs:
            if a in first and b in stages[first[a] + 1 :]:
                converted[(a, b)] += 1
    return tuple(
        StageConversion(a, b, entered[a], converted[(a, b)], rate(converted[(a, b)], entered[a]))
        for a, b in pairs
    )


def win_rate(opportunities: Iterable[Opportunity], flows: Flows = DEFAULT_FLOW) -> Decimal | None:
    """won / (won + lost) over the closed opportunities; None when none is closed."""
    flow_of = _resolver(flows)
    kinds = [_kind(o, flow_of(o)) for o in opportunities]
    won = kinds.count(StageKind.WON)
    return rate(won, won + kinds.count(StageKind.LOST))


# -- money -----------------------------------------------------------------------------------
def _weighted(opportunity: Opportunity, flow: StageFlow) -> Money:
    return opportunity.amount.times(flow.stage(opportunity.stage).probability / _HUNDRED)


def _add(totals: dict[str, Money], amount: Money) -> None:
    current = totals.get(amount.currency)
    totals[amount.currency] = amount if current is None else current + amount


def weighted_pipeline(
    opportunities: Iterable[Opportunity], flows: Flows = DEFAULT_FLOW
) -> dict[str, Money]:
    """Σ amount × stage probability over open opportunities, per currency (no floats)."""
    flow_of = _resolver(flows)
    totals: dict[str, Money] = {}
    for opportunity in opportunities:
        flow = flow_of(opportunity)
        if flow.is_open(opportunity.stage):
            _add(totals, _weighted(opportunity, flow))
    return dict(sorted(totals.items()))


@attrs.frozen
class ForecastRow:
    """Opportunities expected to close in ``month`` in one forecast category and currency."""

    month: str
    category: ForecastCategory
    currency: str
    count: int
    amount: Money
    weighted: Money


_CATEGORY_ORDER = {c: i for i, c in enumerate(ForecastCategory)}


def forecast(
    opportunities: Iterable[Opportunity], flows: Flows = DEFAULT_FLOW
) -> tuple[ForecastRow, ...]:
    """Amount and weighted amount by close month × forecast category × currency."""
    flow_of = _resolver(flows)
    groups: dict[tuple[str, ForecastCategory, str], list[Opportunity]] = defaultdict(list)
    for opportunity in opportunities:
        category = flow_of(opportunity).stage(opportunity.stage).category
        groups[(opportunity.close_month, category, opportunity.amount.currency)].append(opportunity)
    rows = []
    for (month, category, currency), members in groups.items():
        amount, weighted = Money.zero(currency), Money.zero(currency)
        for opportunity in members:
            amount += opportunity.amount
            weighted += _weighted(opportunity, flow_of(opportunity))
        rows.append(ForecastRow(month, category, currency, len(members), amount, weighted))
    rows.sort(key=lambda r: (r.month, _CATEGORY_ORDER[r.category], r.currency))
    return tuple(rows)


def _average(values: Sequence[timedelta]) -> timedelta | None:
    return sum(values, timedelta(0)) / len(values) if values else None


@attrs.frozen
class Velocity:
    """Sales velocity in one currency: open deals × win rate × average won amount ÷ cycle days."""

    currency: str
    open_count: int
    win_rate: Decimal | None
    average_won: Money | None
    average_cycle_days: Decimal | None
    per_day: Money | None


def velocity(
    opportunities: Iterable[Opportunity], flows: Flows = DEFAULT_FLOW
) -> tuple[Velocity, ...]:
    """Sales velocity per currency (None parts when there is no won deal to measure by)."""
    flow_of = _resolver(flows)
    by_currency: dict[str, list[Opportunity]] = defaultdict(list)
    for opportunity in opportunities:
        by_currency[opportunity.amount.currency].append(opportunity)
    result = []
    for currency, members in sorted(by_currency.items()):
        kinds = [_kind(o, flow_of(o)) for o in members]
        won = [o for o, k in zip(members, kinds, strict=True) if k is StageKind.WON]
        open_count = kinds.count(StageKind.OPEN)
        wr = rate(len(won), len(won) + kinds.count(StageKind.LOST))
        average_won = None
        if won:
            total = sum((o.amount for o in won), Money.zero(currency))
            average_won = Money(total.amount / len(won), currency)
        cycle = _average([c for o in won if (c := cycle_length(o)) is not None])
        days = None
        if cycle is not None:
            days = (Decimal(cycle.total_seconds()) / _DAY).quantize(_PLACES, ROUND_HALF_EVEN)
        per_day = None
        if average_won is not None and wr is not None and days:
            per_day = Money(average_won.amount * open_count * wr / days, currency)
        result.append(Velocity(currency, open_count, wr, average_won, days, per_day))
    return tuple(result)


@attrs.frozen
class RepPerformance:
    """One rep's numbers: open / won / lost counts, win rate, won and weighted amounts."""

    rep_id: RepId
    open: int
    won: int
    lost: int
    win_rate: Decimal | None
    won_amount: tuple[Money, ...]
    weighted_pipeline: tuple[Money, ...]
    average_cycle: timedelta | None


def rep_performance(
    opportunities: Iterable[Opportunity], flows: Flows = DEFAULT_FLOW
) -> tuple[RepPerformance, ...]:
    """Per-owner performance, by rep id; amounts per currency (sorted by currency)."""
    flow_of = _resolver(flows)
    by_rep: dict[RepId, list[Opportunity]] = defaultdict(list)
    for opportunity in opportunities:
        by_rep[opportunity.owner_id].append(opportunity)
    rows = []
    for rep_id, members in sorted(by_rep.items()):
        counts = dict.fromkeys(StageKind, 0)
        won_amount: dict[str, Money] = {}
        pipeline: dict[str, Money] = {}
        cycles = []
        for opportunity in members:
            flow = flow_of(opportunity)
            kind = _kind(opportunity, flow)
            counts[kind] += 1
            if kind is StageKind.WON:
                _add(won_amount, opportunity.amount)
                cycle = cycle_length(opportunity)
                if cycle is not None:
                    cycles.append(cycle)
            elif kind is StageKind.OPEN:
                _add(pipeline, _weighted(opportunity, flow))
        won, lost = counts[StageKind.WON], counts[StageKind.LOST]
        rows.append(
            RepPerformance(
                rep_id=rep_id,
                open=counts[StageKind.OPEN],
                won=won,
                lost=lost,
                win_rate=rate(won, won + lost),
                won_amount=tuple(v for _, v in sorted(won_amount.items())),
                weighted_pipeline=tuple(v for _, v in sorted(pipeline.items())),
                average_cycle=_average(cycles),
            )
        )
    return tuple(rows)
