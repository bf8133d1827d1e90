"""What a simulation runs: its size and seed, and the pool rules (a TOML rule file)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import attrs

from leadtocash.durations import Duration
from leadtocash.errors import FieldError, ValidationError
from leadtocash.pool import PoolRules, TierDurations

__all__ = ["DEFAULT_START", "RuleSet", "SimulationConfig", "load_rules"]

#: Monday 5 January 2026: 90 days reach past the Spring Festival (15–23 February 2026).
DEFAULT_START = date(2026, 1, 5)


@attrs.frozen
class RuleSet:
    """The pool rules a manager tunes (库容, daily limits, reclaim days …), one per file.

    Every number is per pool and ``0`` switches a rule off, as in :class:`PoolRules`.
    """

    name: str = "default"
    #: 库容: customers a rep may own (won and locked ones not counted).
    capacity: int = 60
    #: Claims (and fair assignments) per rep per local day.
    daily_claim_limit: int = 8
    #: Reclaim after this many working days without a follow-up (Spring Festival not counted).
    no_follow_up_working_days: int = 7
    #: Reclaim a customer not won within this many calendar days of the claim.
    not_won_days: int = 60
    #: Warn the owner this many working days before a reclaim.
    warn_before_working_days: int = 2
    #: A previous owner waits this many calendar days before claiming the customer again.
    reclaim_cooldown_days: int = 7

    def pool_rules(self) -> PoolRules:
        """The :class:`PoolRules` these numbers stand for."""

        def days(n: int, working: bool = False) -> Duration | None:
            if n <= 0:
                return None
            return Duration.working_days(n) if working else Duration.days(n)

        return PoolRules(
            daily_claim_limit=self.daily_claim_limit or None,
            capacity=self.capacity or None,
            reclaim_cooldown=days(self.reclaim_cooldown_days),
            new_in_pool_cooldown=None,
            no_follow_up=TierDurations(days(self.no_follow_up_working_days, working=True)),
            not_won=TierDurations(days(self.not_won_days)),
            warn_before=days(self.warn_before_working_days, working=True),
            exempt_from_stage=3,
        )

    def as_dict(self) -> dict[str, int | str]:
        """The rule set as plain data (the report shows it)."""
        return attrs.asdict(self)


_RULE_KEYS = {f.name for f in attrs.fields(RuleSet)} - {"name"}


def load_rules(path: Path) -> RuleSet:
    """Read a rule file: a ``[pool]`` table of :class:`RuleSet` numbers, ``name`` optional.

    Unknown keys, non-integers and negative numbers raise one ``ValidationError``
    (``validation.invalid``) whose paths name every bad key, e.g. ``pool.capcity``.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError(
            [FieldError(str(path), "sim.file_unreadable", f"{path}: {exc}")]
        ) from None
    errors: list[FieldError] = []
    name = data.pop("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        errors.append(FieldError("name", "field.type", "name must be a non-empty string"))
        name = path.stem
    pool = data.pop("pool", {})
    errors.extend(
        FieldError(key, "field.unknown", f"{path.name}: unknown table or key {key!r}")
        for key in sorted(data)
    )
    values: dict[str, int] = {}
    if not isinstance(pool, Mapping):
        errors.append(FieldError("pool", "field.type", "[pool] must be a table"))
        pool = {}
    for key, value in sorted(pool.items()):
        errors.extend(_check(path, key, value, values))
    if errors:
        raise ValidationError(errors)
    return RuleSet(name=name, **values)


def _check(path: Path, key: str, value: Any, values: dict[str, int]) -> list[FieldError]:
    where = f"pool.{key}"
    if key not in _RULE_KEYS:
        known = ", ".join(sorted(_RULE_KEYS))
        return [
            FieldError(where, "field.unknown", f"{path.name}: unknown key {where}; known: {known}")
        ]
    if isinstance(value, bool) or not isinstance(value, int):
        return [FieldError(where, "field.type", f"{path.name}: {where} must be an integer")]
    if value < 0 or value > 100_000:
        return [FieldError(where, "field.out_of_range", f"{path.name}: {where} must be 0–100000")]
    values[key] = value
    return []


@attrs.frozen
class SimulationConfig:
    """The size, seed and rules of one simulated sales organisation."""

    zones: int = 3
    reps: int = 30
    days: int = 90
    leads: int = 4_000
    seed: int = 7
    start: date = DEFAULT_START
    #: Share of leads that repeat a company already seen (another channel, another spelling).
    duplicate_rate: float = 0.18
    rules: RuleSet = attrs.field(factory=RuleSet)

    def __attrs_post_init__(self) -> None:
        errors = [
            FieldError(name, "field.out_of_range", f"{name} must be at least {low}")
            for name, value, low in (
                ("zones", self.zones, 1),
                ("reps", self.reps, self.zones),
                ("days", self.days, 1),
                ("leads", self.leads, 1),
            )
            if value < low
        ]
        if errors:
            raise ValidationError(errors)
