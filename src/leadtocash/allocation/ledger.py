"""The fairness ledger: per pool, each rep's weight, exact entitlement and received count.

Entitlements are exact rationals stored as integer numerators over one shared
``denominator`` (plain ints, so cattrs and JSON round-trip them losslessly). Membership rule:
a rep who joins starts at entitlement = received = 0 and only shares leads from then on; a
rep who is away (on leave, inactive, capped) accrues nothing; a weight change only changes the
rate from now on; a rep who leaves forfeits their balance. Nothing is back-paid or penalised.
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd

import attrs

from leadtocash.errors import ValidationError
from leadtocash.model import PoolId, RepId
from leadtocash.validators import non_negative

__all__ = ["FairnessLedger", "LedgerEntry", "fraction_text", "parse_fraction"]


def fraction_text(value: Fraction) -> str:
    """Exact text form of a fraction: ``"num/den"`` (``"3"`` when whole)."""
    return str(value)


def parse_fraction(text: str) -> Fraction:
    """Inverse of :func:`fraction_text`."""
    return Fraction(text)


@attrs.frozen
class LedgerEntry:
    """One rep's account: weight, entitlement numerator (over the denominator), received."""

    rep_id: RepId
    weight: int = attrs.field(default=1, validator=non_negative)
    entitled: int = attrs.field(default=0, validator=non_negative)
    received: int = attrs.field(default=0, validator=non_negative)


def _check_entries(
    _inst: object,
    _attribute: attrs.Attribute[tuple[LedgerEntry, ...]],
    value: tuple[LedgerEntry, ...],
) -> None:
    seen: set[str] = set()
    for entry in value:
        if entry.rep_id in seen:
            raise ValidationError.single(
                "entries", "ledger.duplicate_rep", f"rep {entry.rep_id!r} appears twice"
            )
        seen.add(entry.rep_id)


def _positive(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValidationError.single(attribute.name, "field.not_positive", "must be >= 1")


@attrs.frozen
class FairnessLedger:
    """Per-pool fairness accounts (an aggregate: ``id`` is the pool's id)."""

    id: PoolId
    entries: tuple[LedgerEntry, ...] = attrs.field(default=(), validator=_check_entries)
    denominator: int = attrs.field(default=1, validator=_positive)
    cursor: RepId | None = None
    allocated: int = attrs.field(default=0, validator=non_negative)
    version: int = 0

    def entry(self, rep_id: RepId) -> LedgerEntry | None:
        """The rep's account, or ``None`` when the rep is not in the ledger."""
        for entry in self.entries:
            if entry.rep_id == rep_id:
                return entry
        return None

    def rep_ids(self) -> tuple[RepId, ...]:
        """Reps in ledger order (join order; round robin follows it)."""
        return tuple(e.rep_id for e in self.entries)

    def entitlement(self, rep_id: RepId) -> Fraction:
        """Exact number of leads the rep is entitled to so far (0 when absent)."""
        entry = self.entry(rep_id)
        return Fraction(entry.entitled, self.denominator) if entry else Fraction(0)

    def received(self, rep_id: RepId) -> int:
        """Number of leads the rep received through this ledger (0 when absent)."""
        entry = self.entry(rep_id)
        return entry.received if entry else 0

    def deviation(self, rep_id: RepId) -> Fraction:
        """``received − entitlement``: positive when ahead, negative when behind."""
        return self.received(rep_id) - self.entitlement(rep_id)

    def max_abs_deviation(self) -> Fraction:
        """Largest ``|received − entitlement|`` over the ledger's reps."""
        return max((abs(self.deviation(e.rep_id)) for e in self.entries), default=Fraction(0))

    def join(self, rep_id: RepId, weight: int = 1) -> FairnessLedger:
        """Add a rep at entitlement = received = 0 (no back pay); a no-op when present."""
        if self.entry(rep_id) is not None:
            return self
        return attrs.evolve(self, entries=(*self.entries, LedgerEntry(rep_id, weight)))

    def leave(self, rep_id: RepId) -> FairnessLedger:
        """Remove a rep; their balance is forfeited (nobody else is charged for it)."""
        entries = tuple(e for e in self.entries if e.rep_id != rep_id)
        cursor = None if self.cursor == rep_id else self.cursor
        return attrs.evolve(self, entries=entries, cursor=cursor)

    def set_weight(self, rep_id: RepId, weight: int) -> FairnessLedger:
        """Change a rep's weight from now on; what they were entitled to so far is kept."""
        entries = tuple(
            attrs.evolve(e, weight=weight) if e.rep_id == rep_id else e for e in self.entries
        )
        return attrs.evolve(self, entries=entries)

    def normalized(self) -> FairnessLedger:
        """The same ledger with the smallest common denominator."""
        common = self.denominator
        for entry in self.entries:
            common = gcd(common, entry.entitled)
            if common == 1:
                return self
        entries = tuple(attrs.evolve(e, entitled=e.entitled // common) for e in self.entries)
        return attrs.evolve(self, entries=entries, denominator=self.denominator // common)
