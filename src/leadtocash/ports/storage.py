"""The storage port: what an adapter (SQLite, PostgreSQL, your own) must provide.

The contract is deliberately small and generic, so every aggregate the library adds is
stored by every adapter without adapter changes:

* **Records.** An aggregate is stored as a JSON document (``data``) under ``(kind, id)`` with
  an integer ``version`` (1 after the first write, +1 per write).
* **Indexes.** Each write carries named index values (``indexes``: name → text or None). A
  named query (:class:`IndexQuery`) returns ids ordered by ``(value, id)``; values compare as
  text by code point (use ``COLLATE "C"``/BINARY), and the library encodes numbers and times
  so that text order is their natural order. None means "not in this index".
* **Filters and counts.** A query may add ``where`` clauses on *other* named indexes of the
  same record (:class:`IndexFilter`; a clause holds when any of its filters holds, every
  clause must hold); the order stays ``(value, id)`` of the queried index, so keyset paging
  is unchanged. :meth:`StoreSession.count` counts what a query selects, ignoring ``after``
  and ``limit``, so a list and its count agree on every filter.
* **Unique keys.** Each write carries dedup ``unique_keys``; within one kind no two records may
  hold the same key at the same time (a storage guarantee: unique index, not a read-then-write).
* **Field reads.** :meth:`StoreSession.load_fields` reads a few top-level fields of many
  documents, with the values :meth:`StoreSession.load` would give.
* **Lookup keys.** Each write also carries non-unique ``lookup_keys`` (e.g. every phone and
  e-mail of a customer); :meth:`StoreSession.find_by_key` returns the ids holding one, and
  :meth:`StoreSession.find_by_keys` the ids holding each of many keys in one call (a
  duplicate check asks about some forty keys at once), with exactly the same answer per key.
* **Commits.** :meth:`StoreSession.commit` applies a :class:`Commit` atomically: every write
  succeeds iff each record's stored version equals ``expected_version`` (0 = must not exist),
  else :class:`~leadtocash.errors.ConcurrencyConflict` and *nothing* is saved; a unique-key
  clash raises :class:`~leadtocash.errors.DuplicateKey` and nothing is saved. Outbox messages
  are stored in the same transaction.
* **Version checks.** A commit may also name records it read and does not write
  (:class:`VersionCheck`: kind, id, version), the ones its decision rests on — the customer
  an invoice is issued for, whose owner authorized it. The commit succeeds only if each is
  still at that version when it is applied, else ConcurrencyConflict and nothing is saved;
  and no write of a checked record may commit between the check and the commit (a
  networked store takes a shared row lock on it, in the records' lock order by ``(kind,
  id)`` together with the written rows). A record both written and checked in one commit is
  a StorageError.
* **Audit strands.** The store keeps ``K`` strands (hash chains; K fixed when the store is
  created). Each audit entry of a commit goes to strand
  :func:`~leadtocash.audit.strand_of` ``(entry.stream_id, K)`` and is sealed there inside
  the commit's transaction (:func:`~leadtocash.audit.seal_entries`, or the same hashes
  computed where the strand heads are): the commit takes the heads of the strands it
  touches in ascending strand order, after its record rows and keys, so commits never
  deadlock and commits on different strands never wait for each other. The store stores
  every field of a sealed entry (``strand``, ``strand_seq``, ``prev_hash``, ``hash``,
  ``format``) and gives each a position ``seq`` in its whole log.
* **Digests.** :meth:`Store.seal_digest` seals the tips of all strands, as one consistent
  cut of committed entries, into an :class:`~leadtocash.audit.AuditDigest` chained onto the
  previous one; a store may also seal one every N commits.
* **Erasure.** :meth:`Store.erase_personal` removes one person's data (PIPL / GDPR) from
  the audit log and the outbox: each audit entry about one of the :class:`Erasure`'s
  subjects loses its erasable part (personal values and salts; the stand-ins its hash
  covers stay, so the strands still verify), and each outbox payload string holding one of
  its values has the value replaced by :data:`ERASED`. Records, indexes and keys are
  erased by rewriting the aggregates through an ordinary commit.
* **Errors.** Driver errors are translated into the :class:`~leadtocash.errors.StorageError`
  family with ``raise ... from exc``.

``leadtocash.testing.StoreConformance`` checks all of this against any adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs

from leadtocash.audit import AuditDigest, AuditEntry
from leadtocash.errors import ConcurrencyConflict, StorageError
from leadtocash.model import utc

__all__ = [
    "ERASED",
    "Commit",
    "Erasure",
    "ErasureReport",
    "IndexFilter",
    "IndexQuery",
    "OutboxMessage",
    "RecordWrite",
    "Store",
    "StoreSession",
    "StoredRecord",
    "VersionCheck",
    "check_failed",
    "commit_checks",
    "scrub_payload",
]

#: What replaces an erased value in an outbox payload (and in erased aggregates' fields).
ERASED = "[erased]"


@attrs.frozen
class StoredRecord:
    """A record as read back: its kind, id, stored version and JSON document."""

    kind: str
    id: str
    version: int
    data: Mapping[str, Any]


@attrs.frozen
class RecordWrite:
    """Insert (``expected_version == 0``) or update one record, with its index values and keys."""

    kind: str
    id: str
    expected_version: int
    data: Mapping[str, Any]
    indexes: Mapping[str, str | None] = attrs.field(factory=dict)
    unique_keys: frozenset[str] = frozenset()
    lookup_keys: frozenset[str] = frozenset()

    @property
    def new_version(self) -> int:
        """The version the record has after this write."""
        return self.expected_version + 1


def _strings(values: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


@attrs.frozen
class IndexFilter:
    """A condition on another named index of the same record.

    It holds when the record has a value in ``index`` that satisfies every condition given:
    ``equals`` one value, ``one_of`` several (an empty tuple matches nothing), ``at_least``
    (inclusive) and ``below`` (exclusive) a range. A record without a value in ``index``
    never satisfies a filter on it.
    """

    index: str
    equals: str | None = None
    one_of: tuple[str, ...] | None = attrs.field(default=None, converter=_strings)
    at_least: str | None = None
    below: str | None = None

    def holds(self, value: str | None) -> bool:
        """True when a record whose ``index`` value is ``value`` satisfies the filter."""
        if value is None:
            return False
        if self.equals is not None and value != self.equals:
            return False
        if self.one_of is not None and value not in self.one_of:
            return False
        if self.at_least is not None and value < self.at_least:
            return False
        return self.below is None or value < self.below


#: A clause of :attr:`IndexQuery.where`: it holds when any of its filters holds.
Clause = tuple[IndexFilter, ...]


def _clauses(clauses: Sequence[Sequence[IndexFilter]]) -> tuple[Clause, ...]:
    return tuple(tuple(clause) for clause in clauses)


@attrs.frozen
class IndexQuery:
    """A named-index query: ids of ``kind`` whose ``index`` value matches, in (value, id) order.

    ``equals`` selects one value; ``at_least`` (inclusive) and ``below`` (exclusive) bound a
    range; ``after`` is a keyset cursor ``(value, id)`` returned by the previous page;
    ``where`` narrows the result with clauses on other indexes of the same record (each
    clause a tuple of :class:`IndexFilter` alternatives; every clause must hold).
    """

    kind: str
    index: str
    equals: str | None = None
    at_least: str | None = None
    below: str | None = None
    after: tuple[str, str] | None = None
    limit: int = 100
    where: tuple[Clause, ...] = attrs.field(default=(), converter=_clauses)

    def admits(self, indexes: Mapping[str, str]) -> bool:
        """True when a record with these index values satisfies every ``where`` clause."""
        return all(any(f.holds(indexes.get(f.index)) for f in clause) for clause in self.where)

    def matches(self, value: str, ident: str) -> bool:
        """True when an entry ``(value, ident)`` belongs to the result (before the limit)."""
        if self.equals is not None and value != self.equals:
            return False
        if self.at_least is not None and value < self.at_least:
            return False
        if self.below is not None and value >= self.below:
            return False
        return self.after is None or (value, ident) > self.after


@attrs.frozen
class OutboxMessage:
    """A notification waiting for delivery, written in the same commit as the change."""

    id: str
    topic: str
    payload: Mapping[str, Any]
    created_at: datetime = attrs.field(validator=utc)
    idempotency_key: str
    attempts: int = 0
    next_attempt_at: datetime | None = attrs.field(default=None, validator=utc)
    delivered_at: datetime | None = attrs.field(default=None, validator=utc)
    last_error: str | None = None


def _positive(_: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1 (a stored record), got {value}")


@attrs.frozen
class VersionCheck:
    """A record a commit read and rests on without writing it: the commit succeeds only if
    the record is still at ``version`` (see the module docstring)."""

    kind: str
    id: str
    version: int = attrs.field(validator=_positive)


@attrs.frozen
class Commit:
    """Everything one unit of work saves, atomically."""

    writes: Sequence[RecordWrite] = ()
    audit: Sequence[AuditEntry] = ()
    outbox: Sequence[OutboxMessage] = ()
    checks: Sequence[VersionCheck] = ()


def commit_checks(commit: Commit) -> list[VersionCheck]:
    """``commit``'s version checks in the records' lock order ``(kind, id)``, each once.

    StorageError for a record both checked and written (its write's ``expected_version`` is
    the check), or checked at two versions. For adapters: validate before taking locks.
    """
    if not commit.checks:
        return []
    written = {(w.kind, w.id) for w in commit.writes}
    checks: dict[tuple[str, str], VersionCheck] = {}
    for check in commit.checks:
        key = (check.kind, check.id)
        if key in written:
            raise StorageError(f"{check.kind} {check.id!r} is both written and checked")
        if checks.setdefault(key, check).version != check.version:
            raise StorageError(f"{check.kind} {check.id!r} is checked at two versions")
    return [checks[key] for key in sorted(checks)]


def check_failed(check: VersionCheck, current: int | None = None) -> ConcurrencyConflict:
    """The ConcurrencyConflict for a checked record that changed (``current``: its version
    now, 0 when it is gone, None when the store did not read it)."""
    now = "" if current is None else f" (now {current})"
    return ConcurrencyConflict(
        f"{check.kind} {check.id!r} changed after it was read at version {check.version}{now}",
        details={"kind": check.kind, "id": check.id, "expected_version": check.version},
    )


def _pairs(pairs: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(kind), str(ident)) for kind, ident in pairs)


def _texts(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


@attrs.frozen
class Erasure:
    """One person's data to erase from the audit log and the outbox.

    ``subjects`` are the ``(target_kind, target_id)`` of the aggregates that held it: every
    audit entry about one of them loses its erasable part (personal values and their salts,
    :meth:`~leadtocash.audit.AuditEntry.personal_record`). ``values`` are the person's
    values (phones, e-mails, name...): every string of an outbox payload holding one has it
    replaced by :data:`ERASED`.
    """

    subjects: tuple[tuple[str, str], ...] = attrs.field(converter=_pairs)
    values: tuple[str, ...] = attrs.field(default=(), converter=_texts)


@attrs.frozen
class ErasureReport:
    """What :meth:`Store.erase_personal` changed: audit entries and outbox messages."""

    audit_entries: int
    outbox_messages: int


def scrub_payload(payload: Any, values: Sequence[str]) -> Any:
    """``payload`` with every occurrence of ``values`` in its strings replaced by ERASED.

    Returns the very object given when nothing matched (callers compare with ``is``).
    """
    if isinstance(payload, str):
        text = payload
        for value in values:
            if value in text:
                text = text.replace(value, ERASED)
        return payload if text == payload else text
    if isinstance(payload, Mapping):
        items = {k: scrub_payload(v, values) for k, v in payload.items()}
        changed = any(items[k] is not v for k, v in payload.items())
        return items if changed else payload
    if isinstance(payload, list | tuple):
        scrubbed = [scrub_payload(v, values) for v in payload]
        return (
            scrubbed if any(a is not b for a, b in zip(scrubbed, payload, strict=True)) else payload
        )
    return payload


class StoreSession(Protocol):
    """One transaction's view of the store; reads see committed data only."""

    def load(self, kind: str, ident: str) -> StoredRecord | None:
        """The record or None."""
        ...

    def load_many(self, kind: str, idents: Sequence[str]) -> dict[str, StoredRecord]:
        """The records that exist among ``idents``, by id."""
        ...

    def load_each(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredRecord]:
        """The records that exist among ``(kind, id)`` pairs of any kinds, by pair.

        One call (one round trip for a networked store) for what a command needs next,
        say a pool, a counter and a rep's book.
        """
        ...

    def load_fields(
        self, kind: str, idents: Sequence[str], fields: Sequence[str]
    ) -> dict[str, tuple[Any, ...]]:
        """Top-level ``fields`` of the documents of the records that exist among ``idents``.

        By id: one tuple per record, each value as ``load(kind, id).data.get(field)`` gives
        it (None for a field the document lacks). ``fields`` are plain names (letters,
        digits, underscores). For reads that need a few fields of many records (a duplicate
        check's candidates): the store may leave the rest of each document unparsed.
        """
        ...

    def scan(self, kind: str, *, after: str | None = None, limit: int = 100) -> list[StoredRecord]:
        """Up to ``limit`` records of ``kind`` with ids after ``after``, in ascending id order.

        Every record of the kind, whatever its indexes: what maintenance reads (a reindex
        after an upgrade changed what the aggregates index, an export of everything).
        """
        ...

    def find_unique(self, kind: str, key: str) -> str | None:
        """The id of the record of ``kind`` that holds unique ``key``, or None."""
        ...

    def find_by_key(self, kind: str, key: str, *, limit: int = 100) -> list[str]:
        """Up to ``limit`` ids of records of ``kind`` holding lookup ``key``, ascending."""
        ...

    def find_by_keys(
        self, kind: str, keys: Sequence[str], *, limit: int = 100
    ) -> dict[str, list[str]]:
        """For each of ``keys``, up to ``limit`` ids of records of ``kind`` holding it, ascending.

        Keys no record holds are left out, so ``find_by_keys(kind, keys, limit=n).get(key,
        [])`` equals ``find_by_key(kind, key, limit=n)`` for every key. One call (one round
        trip, or one statement per few hundred keys) instead of one per key; the answer per
        key stays bounded by ``limit`` however many records hold it.
        """
        ...

    def query(self, query: IndexQuery) -> list[tuple[str, str]]:
        """Up to ``query.limit`` ``(value, id)`` pairs in ascending order."""
        ...

    def count(self, query: IndexQuery) -> int:
        """How many entries ``query`` selects, ignoring its ``after`` cursor and ``limit``."""
        ...

    def commit(self, commit: Commit) -> None:
        """Apply ``commit`` atomically (see the module docstring) or raise and save nothing."""
        ...

    def close(self) -> None:
        """Release the session; anything not committed is discarded. Idempotent."""
        ...


class Store(Protocol):
    """A storage engine: opens sessions and serves the audit log and the outbox relay."""

    def session(self) -> StoreSession:
        """Open a new session (one transaction)."""
        ...

    @property
    def audit_strands(self) -> int:
        """K, the number of audit strands (fixed when the store was created)."""
        ...

    def audit_log(self, *, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Sealed audit entries with ``seq > after_seq`` in seq order."""
        ...

    def audit_strand(self, strand: int, *, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Sealed entries of one strand with ``strand_seq > after``, in strand order."""
        ...

    def audit_digests(self, *, after: int = 0, limit: int = 1000) -> list[AuditDigest]:
        """Digests with ``seq > after``, in order."""
        ...

    def seal_digest(self) -> AuditDigest:
        """Seal the current tips of all strands into a new digest (on demand) and return it."""
        ...

    def erase_personal(self, erasure: Erasure) -> ErasureReport:
        """Erase one person's data from the audit log and the outbox (see :class:`Erasure`);
        idempotent. Audit entries keep their hashes: the strands still verify."""
        ...

    def outbox_due(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        """Undelivered messages whose ``next_attempt_at`` is None or <= ``now``, oldest first."""
        ...

    def outbox_mark_delivered(self, message_id: str, at: datetime) -> None:
        """Record a successful delivery (idempotent)."""
        ...

    def outbox_mark_failed(self, message_id: str, error: str, retry_at: datetime) -> None:
        """Record a failed attempt: attempts + 1, last error, next attempt time."""
        ...

    def close(self) -> None:
        """Release every resource (connections, pools). Idempotent."""
        ...
