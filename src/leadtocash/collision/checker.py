"""The duplicate checker: candidate keys against existing leads and customers, under a policy.

``check_duplicates`` is pure: the caller (an application service) fetches the existing records
that share a key with the candidate (storage looks them up by key text) plus any records it
wants fuzzy-compared, and gets back a ``CollisionReport``. The checker does not care whether
the candidate or an existing record is a lead or a customer; each hit says the existing
record's kind, so leads are checked against customers and customers against leads alike.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import attrs

from leadtocash.collision.keys import DedupKey, KeyKind, stored_keys
from leadtocash.collision.normalize import (
    mask_name,
    name_similarity,
    typo_similarity,
)
from leadtocash.collision.parts import name_parts
from leadtocash.collision.regions import strip_region
from leadtocash.collision.variants import variant_similarity
from leadtocash.errors import RuleViolation, ValidationError
from leadtocash.fields import DEFAULT_REGION
from leadtocash.model import Customer, Lead

__all__ = [
    "DEFAULT_FUZZY_THRESHOLD",
    "DEFAULT_POLICY",
    "DUPLICATE_CODE",
    "MASK",
    "CollisionHit",
    "CollisionPolicy",
    "CollisionReport",
    "ExistingRecord",
    "MatchKind",
    "Outcome",
    "RecordKind",
    "RecordRef",
    "RecordView",
    "check_duplicates",
    "fuzzy_score",
    "hits_by_record",
    "raise_if_blocked",
]

#: What a hidden owner id is shown as.
MASK = "***"

#: Default ``fuzzy_score`` (0–100) from which similar names warn.
DEFAULT_FUZZY_THRESHOLD = 88.0

#: The stable error code of a blocked creation/claim/conversion.
DUPLICATE_CODE = "collision.duplicate"


class Outcome(enum.StrEnum):
    """What a hit means: refuse the command, tell the user, or ignore it."""

    BLOCK = "block"
    WARN = "warn"
    ALLOW = "allow"


class RecordKind(enum.StrEnum):
    """Which kind of record a key belongs to."""

    LEAD = "lead"
    CUSTOMER = "customer"


class MatchKind(enum.StrEnum):
    """How a hit was found: a shared exact key, a similar name, or a transliterated name."""

    EXACT = "exact"
    FUZZY = "fuzzy"
    VARIANT = "variant"


_SEVERITY = {Outcome.BLOCK: 0, Outcome.WARN: 1, Outcome.ALLOW: 2}
_MATCH_ORDER = {MatchKind.EXACT: 0, MatchKind.VARIANT: 1, MatchKind.FUZZY: 2}


def _key_set(keys: Iterable[DedupKey]) -> frozenset[DedupKey]:
    return frozenset(keys)


@attrs.frozen
class CollisionPolicy:
    """Per key kind: block, warn or allow an exact hit; plus the fuzzy-name warning threshold.

    Defaults and why:

    * ``uscc=block`` — the code identifies one legal entity (check digit validated); a second
      record with it is the same company.
    * ``name=block`` — after normalization an equal name is the same registered name (Chinese
      enterprise names are unique per registration authority; brackets keep regional entities
      apart, 分公司 and 集团 stay in the key). This is the core of 防撞单: the second rep must ask
      the owner or a manager rather than create a parallel record.
    * ``phone=warn`` and ``email=warn`` — switchboards, agencies, shared mailboxes and people who
      change jobs make contact data shared across legitimately different companies, so they only
      warn.
    * Fuzzy similarity (``fuzzy_threshold``, ``fuzzy_score`` of the normalized names, ``None``
      disables it) and transliteration variants (``variants``, needs the opencc/pypinyin extras)
      **only ever warn** — never block — whatever the policy says for exact keys.
    """

    uscc: Outcome = attrs.field(default=Outcome.BLOCK, converter=Outcome)
    name: Outcome = attrs.field(default=Outcome.BLOCK, converter=Outcome)
    phone: Outcome = attrs.field(default=Outcome.WARN, converter=Outcome)
    email: Outcome = attrs.field(default=Outcome.WARN, converter=Outcome)
    fuzzy_threshold: float | None = DEFAULT_FUZZY_THRESHOLD
    variants: bool = True

    def __attrs_post_init__(self) -> None:
        threshold = self.fuzzy_threshold
        if threshold is not None and not 0.0 < threshold <= 100.0:
            raise ValidationError.single(
                "fuzzy_threshold", "collision.threshold", "must be in (0, 100] or None"
            )

    def outcome_for(self, kind: KeyKind) -> Outcome:
        """The configured outcome of an exact hit on a key of ``kind``."""
        return {
            KeyKind.USCC: self.uscc,
            KeyKind.NAME: self.name,
            KeyKind.PHONE: self.phone,
            KeyKind.EMAIL: self.email,
        }[kind]

    def unique_keys(self, keys: Iterable[DedupKey]) -> frozenset[str]:
        """The storage texts of the keys that block, i.e. that storage must keep unique."""
        return frozenset(k.text for k in keys if self.outcome_for(k.kind) is Outcome.BLOCK)


#: The default policy (uscc and name block, phone and e-mail warn, fuzzy warns from 88).
DEFAULT_POLICY = CollisionPolicy()


@attrs.frozen(order=True)
class RecordRef:
    """A record's kind and id."""

    kind: RecordKind = attrs.field(converter=RecordKind)
    id: str


@lru_cache(maxsize=65536)
def _name_keys(name: str) -> frozenset[DedupKey]:
    """The keys of a stored name alone, memoized: checks compare the same stored names again
    and again (as many entries as the name normalization's own cache)."""
    return stored_keys(name, (), (), None)


@attrs.frozen
class ExistingRecord:
    """What the checker needs about an existing lead or customer."""

    kind: RecordKind = attrs.field(converter=RecordKind)
    id: str
    display_name: str
    owner_id: str | None
    keys: frozenset[DedupKey] = attrs.field(converter=_key_set)

    @property
    def ref(self) -> RecordRef:
        """The record's kind and id."""
        return RecordRef(self.kind, self.id)

    @property
    def normalized_name(self) -> str | None:
        """The value of the record's name key, if it has one."""
        for key in self.keys:
            if key.kind is KeyKind.NAME:
                return key.value
        return None

    @classmethod
    def by_name(
        cls, kind: RecordKind, ident: str, name: str, owner_id: str | None
    ) -> ExistingRecord:
        """A stored record fetched only to compare names with: its name key alone (parsing
        its contact data is the slow part, and a check compares dozens of such records)."""
        return cls(kind, ident, name, owner_id, _name_keys(name))

    @classmethod
    def from_lead(cls, lead: Lead, *, region: str = DEFAULT_REGION) -> ExistingRecord:
        """The checker's view of a stored lead."""
        return cls(
            RecordKind.LEAD,
            str(lead.id),
            lead.company_name,
            lead.owner_id,
            stored_keys(lead.company_name, (lead.phone,), (lead.email,), lead.uscc, region=region),
        )

    @classmethod
    def from_customer(cls, customer: Customer, *, region: str = DEFAULT_REGION) -> ExistingRecord:
        """The checker's view of a stored customer."""
        return cls(
            RecordKind.CUSTOMER,
            str(customer.id),
            customer.name,
            customer.owner_id,
            stored_keys(customer.name, customer.phones, customer.emails, customer.uscc,
                        region=region),
        )  # fmt: skip


@attrs.frozen
class RecordView:
    """The existing record as the caller may see it (name and owner masked when not allowed)."""

    kind: RecordKind
    id: str
    display_name: str
    owner_id: str | None
    masked: bool


@attrs.frozen
class CollisionHit:
    """One existing record that matches the candidate, how, and what the policy says."""

    record: RecordView
    match: MatchKind
    outcome: Outcome
    key: DedupKey | None = None
    score: float = 100.0

    def as_dict(self) -> dict[str, Any]:
        """Plain-data form for error details and API answers."""
        return {
            "record_kind": self.record.kind.value,
            "record_id": self.record.id,
            "display_name": self.record.display_name,
            "owner_id": self.record.owner_id,
            "masked": self.record.masked,
            "match": self.match.value,
            "outcome": self.outcome.value,
            "key": self.key.text if self.key else None,
            "score": self.score,
        }

    def describe(self) -> str:
        """One line: ``customer 'c1' (华***司, owner ***) by name:华为技术``."""
        owner = self.record.owner_id or "none"
        how = self.key.text if self.key else f"{self.match.value} name ({self.score:.0f})"
        return (
            f"{self.record.kind.value} {self.record.id!r} "
            f"({self.record.display_name}, owner {owner}) by {how}"
        )


def _hit_order(hit: CollisionHit) -> tuple[int, int, str, str, str, float]:
    return (
        _SEVERITY[hit.outcome],
        _MATCH_ORDER[hit.match],
        hit.record.kind.value,
        hit.record.id,
        hit.key.text if hit.key else "",
        -hit.score,
    )


@attrs.frozen
class CollisionReport:
    """Every hit of one check, most severe first; ``blocked`` when any hit blocks."""

    hits: tuple[CollisionHit, ...] = ()

    @property
    def blocked(self) -> bool:
        """True when at least one hit's outcome is ``block``."""
        return any(hit.outcome is Outcome.BLOCK for hit in self.hits)

    @property
    def blocking(self) -> tuple[CollisionHit, ...]:
        """The hits that block."""
        return tuple(hit for hit in self.hits if hit.outcome is Outcome.BLOCK)

    @property
    def warnings(self) -> tuple[CollisionHit, ...]:
        """The hits that warn (exact warn-policy keys, similar names, variants)."""
        return tuple(hit for hit in self.hits if hit.outcome is Outcome.WARN)

    @property
    def clean(self) -> bool:
        """True when nothing blocks and nothing warns."""
        return not self.blocking and not self.warnings

    def records(self, outcome: Outcome | None = None) -> tuple[RecordRef, ...]:
        """Distinct records hit (optionally only with ``outcome``), in report order."""
        seen: dict[RecordRef, None] = {}
        for hit in self.hits:
            if outcome is None or hit.outcome is outcome:
                seen.setdefault(RecordRef(hit.record.kind, hit.record.id), None)
        return tuple(seen)

    def details(self) -> dict[str, Any]:
        """Plain-data form: blocking hits and warnings."""
        return {
            "blocked": self.blocked,
            "blocking": [hit.as_dict() for hit in self.blocking],
            "warnings": [hit.as_dict() for hit in self.warnings],
        }


Visibility = Callable[[ExistingRecord], bool] | bool


def _view(record: ExistingRecord, viewer_may_see: Visibility) -> RecordView:
    visible = viewer_may_see(record) if callable(viewer_may_see) else viewer_may_see
    if visible:
        return RecordView(record.kind, record.id, record.display_name, record.owner_id, False)
    owner = MASK if record.owner_id is not None else None
    return RecordView(record.kind, record.id, mask_name(record.display_name), owner, True)


def check_duplicates(
    candidate_keys: Iterable[DedupKey],
    existing: Sequence[ExistingRecord],
    policy: CollisionPolicy = DEFAULT_POLICY,
    *,
    viewer_may_see: Visibility = False,
    exclude: Collection[RecordRef] = (),
) -> CollisionReport:
    """Compare the candidate's keys with ``existing`` records and report every hit.

    * Each exact key shared with a record is one hit with the policy's outcome for that kind
      (``allow`` hits are listed but neither block nor warn).
    * A record with no exact name hit whose normalized name scores at least the policy's
      ``fuzzy_threshold`` against the candidate's (``fuzzy_score``) gives one ``fuzzy`` hit
      that only warns.
    * Otherwise, with the optional extras installed (opencc, pypinyin) and ``policy.variants``,
      a traditional/simplified, homophone or pinyin-vs-Latin spelling of the candidate's name
      (see ``variant_similarity``) gives one ``variant`` hit that only warns.
    * ``viewer_may_see`` (a flag, or a predicate on the record) decides whether the record's
      name and owner are shown or masked (``华***司``, owner ``***``); ids are always shown.
    * Records in ``exclude`` (e.g. the record being updated) are skipped.
    """
    keys = frozenset(candidate_keys)
    candidate_name = next((k.value for k in keys if k.kind is KeyKind.NAME), None)
    excluded = frozenset(exclude)
    hits: list[CollisionHit] = []
    seen: set[RecordRef] = set()
    for record in existing:
        ref = record.ref
        if ref in excluded or ref in seen:
            continue
        seen.add(ref)
        found = _match(keys, candidate_name, record, policy)
        if found:
            view = _view(record, viewer_may_see)
            hits.extend(CollisionHit(view, *found_hit) for found_hit in found)
    return CollisionReport(tuple(sorted(hits, key=_hit_order)))


_Found = tuple[MatchKind, Outcome, DedupKey | None, float]


def _match(
    keys: frozenset[DedupKey],
    candidate_name: str | None,
    record: ExistingRecord,
    policy: CollisionPolicy,
) -> list[_Found]:
    shared = sorted(keys & record.keys)
    found: list[_Found] = [
        (MatchKind.EXACT, policy.outcome_for(key.kind), key, 100.0) for key in shared
    ]
    other = record.normalized_name
    if candidate_name is None or other is None or other == candidate_name:
        return found
    if policy.fuzzy_threshold is not None:
        score = fuzzy_score(candidate_name, other)
        if score >= policy.fuzzy_threshold:
            found.append((MatchKind.FUZZY, Outcome.WARN, None, score))
            return found
    if policy.variants:
        variant = variant_similarity(candidate_name, other)
        if variant is not None:
            found.append((MatchKind.VARIANT, Outcome.WARN, None, variant))
    return found


def _score(a: str, b: str) -> float:
    return max(name_similarity(a, b), typo_similarity(a, b))


def _whole_score(a: str, b: str) -> float:
    whole = _score(a, b)
    core_a, core_b = strip_region(a), strip_region(b)
    if (core_a, core_b) == (a, b):
        return whole
    return min(whole, _score(core_a, core_b))


def fuzzy_score(a: str, b: str) -> float:
    """The fuzzy score (0–100) of two *normalized* names: how alike their distinctive parts are.

    The region and the industry make up most of a Chinese name, so whole names of two
    companies of one city and trade look alike (``南京市网新生物科技`` and ``南京市豪新生物科技``
    score 89 by WRatio) and names of one brand in two trades too (``腾讯科技``, ``腾讯音乐``).
    So the names are cut into region, brand (字号), industry and the rest (``name_parts``):

    * same brand and industry (they differ by region or by what follows: a bracketed region,
      a branch 分公司): the higher of ``name_similarity`` and ``typo_similarity``, on the whole
      names and on the names without a leading region, the lower of the two kept — so a parent
      and its branch score 90, ``深圳市宏达贸易`` and ``北京市宏达贸易`` 71;
    * brand or industry differ: ``typo_similarity`` of the names without the region (90 when
      one edit apart, a typo; else 0), capped by the whole-name score;
    * a name without a known industry word (``name_parts`` is None): the whole-name score.
    """
    parts_a, parts_b = name_parts(a), name_parts(b)
    if (
        parts_a is None
        or parts_b is None
        or (parts_a.brand, parts_a.trade) == (parts_b.brand, parts_b.trade)
    ):
        return _whole_score(a, b)
    typo = typo_similarity(strip_region(a), strip_region(b))
    return min(_whole_score(a, b), typo) if typo else 0.0


def raise_if_blocked(report: CollisionReport) -> CollisionReport:
    """Raise ``RuleViolation`` (code ``collision.duplicate``) when ``report`` blocks.

    The message and details name every blocking record (masked as the report is); returns the
    report unchanged otherwise, so warnings can be passed on.
    """
    if not report.blocked:
        return report
    first, *rest = report.blocking
    more = f" and {len(rest)} more" if rest else ""
    raise RuleViolation(
        f"duplicate of {first.describe()}{more}",
        code=DUPLICATE_CODE,
        details=report.details(),
    )


def hits_by_record(report: CollisionReport) -> Mapping[RecordRef, tuple[CollisionHit, ...]]:
    """The report's hits grouped by the record they name."""
    grouped: dict[RecordRef, list[CollisionHit]] = {}
    for hit in report.hits:
        grouped.setdefault(RecordRef(hit.record.kind, hit.record.id), []).append(hit)
    return {ref: tuple(hits) for ref, hits in grouped.items()}
