"""Thread-safe in-memory store implementing the storage port exactly.

Records are kept as JSON text (so anything an adapter could not store fails here too), every
commit runs under one lock with version and unique-key checks before any change is applied.
It is the reference the conformance suite compares real adapters against.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs
from sortedcontainers import SortedList

from leadtocash.audit import (
    DEFAULT_STRANDS,
    AuditDigest,
    AuditEntry,
    erase_personal,
    make_digest,
    seal_entries,
    strand_of,
    tips_of,
)
from leadtocash.errors import ConcurrencyConflict, DuplicateKey, NotFound, StorageError
from leadtocash.ports.storage import (
    Commit,
    Erasure,
    ErasureReport,
    IndexQuery,
    OutboxMessage,
    StoredRecord,
    check_failed,
    commit_checks,
    scrub_payload,
)

__all__ = ["InMemoryStore"]

# The rows' JSON encoder, built once (``json.dumps`` with options builds one per call).
_ROW_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


@attrs.define
class _Row:
    version: int
    text: str
    indexes: dict[str, str]
    keys: frozenset[str]
    lookups: frozenset[str] = frozenset()


class InMemoryStore:
    """The reference store: a dict of JSON rows, sorted indexes, unique keys, audit, outbox."""

    def __init__(self, *, strands: int = DEFAULT_STRANDS, digest_every: int = 0) -> None:
        """``strands``: K audit strands; ``digest_every``: seal a digest after every N audited
        commits (0: only on demand, :meth:`seal_digest`)."""
        if strands < 1:
            raise ValueError("strands must be >= 1")
        self._strands = strands
        self._digest_every = digest_every
        self._heads: dict[int, tuple[int, str]] = {}
        self._by_strand: dict[int, list[AuditEntry]] = {}
        self._digests: list[AuditDigest] = []
        self._audited = 0
        self._lock = threading.RLock()
        self._rows: dict[tuple[str, str], _Row] = {}
        self._indexes: dict[tuple[str, str], SortedList] = {}
        self._unique: dict[tuple[str, str], str] = {}
        self._lookup: dict[tuple[str, str], set[str]] = {}
        self._audit: list[AuditEntry] = []
        self._outbox: dict[str, OutboxMessage] = {}
        self.commits = 0
        self.closed = False

    # -- sessions -------------------------------------------------------------------------
    def session(self) -> _MemorySession:
        """A new session; reads see the latest committed state."""
        if self.closed:
            raise StorageError("store is closed")
        return _MemorySession(self)

    def _load(self, kind: str, ident: str) -> StoredRecord | None:
        with self._lock:
            row = self._rows.get((kind, ident))
            if row is None:
                return None
            return StoredRecord(kind, ident, row.version, json.loads(row.text))

    def _query(self, query: IndexQuery) -> list[tuple[str, str]]:
        if query.limit <= 0:
            return []
        return self._select(query, query.limit)

    def _count(self, query: IndexQuery) -> int:
        return len(self._select(attrs.evolve(query, after=None), None))

    def _select(self, query: IndexQuery, limit: int | None) -> list[tuple[str, str]]:
        with self._lock:
            index = self._indexes.get((query.kind, query.index))
            if index is None:
                return []
            start: tuple[str, str] | None = None
            lows = [v for v in (query.equals, query.at_least) if v is not None]
            if lows:
                start = (max(lows), "")
            inclusive = True
            if query.after is not None and (start is None or query.after >= start):
                start, inclusive = query.after, False
            result: list[tuple[str, str]] = []
            for value, ident in index.irange(minimum=start, inclusive=(inclusive, True)):
                if query.equals is not None and value != query.equals:
                    break
                if query.below is not None and value >= query.below:
                    break
                if query.matches(value, ident) and (
                    not query.where or query.admits(self._rows[(query.kind, ident)].indexes)
                ):
                    result.append((value, ident))
                    if len(result) == limit:
                        break
            return result

    def _commit(self, commit: Commit) -> None:
        try:  # before the lock, like a real store: what cannot be hashed fails here
            contents = [entry.content_hash() for entry in commit.audit]
        except (TypeError, ValueError) as exc:
            raise StorageError(f"an audit entry cannot be hashed: {exc}") from exc
        checks = commit_checks(commit)
        with self._lock:
            for check in checks:
                row = self._rows.get((check.kind, check.id))
                current = 0 if row is None else row.version
                if current != check.version:
                    raise check_failed(check, current)
            planned: dict[tuple[str, str], int] = {}
            for write in commit.writes:
                key = (write.kind, write.id)
                if key in planned:
                    raise StorageError(f"{write.kind} {write.id!r} written twice in one commit")
                row = self._rows.get(key)
                current = 0 if row is None else row.version
                if current != write.expected_version:
                    raise ConcurrencyConflict(
                        f"{write.kind} {write.id!r} is at version {current}, "
                        f"expected {write.expected_version}",
                        details={"kind": write.kind, "id": write.id},
                    )
                planned[key] = write.new_version
            released: set[tuple[str, str]] = set()
            for write in commit.writes:
                old = self._rows.get((write.kind, write.id))
                if old is not None:
                    released.update((write.kind, unique) for unique in old.keys)
            future: dict[tuple[str, str], str] = {}
            for write in commit.writes:
                for unique in write.unique_keys:
                    slot = (write.kind, unique)
                    holder = future.get(slot)
                    if holder is None and slot not in released:
                        holder = self._unique.get(slot)
                    if holder is not None and holder != write.id:
                        raise DuplicateKey(write.kind, unique, holder)
                    future[slot] = write.id
            for message in commit.outbox:
                if message.id in self._outbox:
                    raise StorageError(f"outbox message {message.id!r} already exists")
            texts = [_ROW_JSON(w.data) for w in commit.writes]
            # Every check passed: apply.
            for write, text in zip(commit.writes, texts, strict=True):
                key = (write.kind, write.id)
                old = self._rows.get(key)
                if old is not None:
                    for name, value in old.indexes.items():
                        self._indexes[(write.kind, name)].discard((value, write.id))
                for lookup in old.lookups if old is not None else ():
                    holders = self._lookup[(write.kind, lookup)]
                    holders.discard(write.id)
                    if not holders:
                        del self._lookup[(write.kind, lookup)]
                for lookup in write.lookup_keys:
                    self._lookup.setdefault((write.kind, lookup), set()).add(write.id)
                indexes = {n: v for n, v in write.indexes.items() if v is not None}
                for name, value in indexes.items():
                    pairs = self._indexes.setdefault((write.kind, name), SortedList())
                    if (value, write.id) not in pairs:
                        pairs.add((value, write.id))
                self._rows[key] = _Row(
                    write.new_version, text, indexes, write.unique_keys, write.lookup_keys
                )
            for slot in released:
                self._unique.pop(slot, None)
            self._unique.update(future)
            if commit.audit:
                sealed, heads = seal_entries(
                    commit.audit,
                    strands=self._strands,
                    heads=self._heads,
                    content_hashes=contents,
                    first_seq=len(self._audit) + 1,
                )
                self._heads.update(heads)
                self._audit.extend(sealed)
                for entry in sealed:
                    self._by_strand.setdefault(entry.strand, []).append(entry)
                self._audited += 1
                if self._digest_every and self._audited % self._digest_every == 0:
                    self.seal_digest()
            for message in commit.outbox:
                self._outbox[message.id] = message
            self.commits += 1

    # -- audit and outbox ------------------------------------------------------------------
    @property
    def audit_strands(self) -> int:
        """K, the number of audit strands."""
        return self._strands

    def audit_log(self, *, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Sealed audit entries after ``after_seq``."""
        with self._lock:
            return self._audit[after_seq : after_seq + max(limit, 0)]

    def audit_strand(self, strand: int, *, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Sealed entries of ``strand`` after ``strand_seq`` ``after``."""
        with self._lock:
            return self._by_strand.get(strand, [])[after : after + max(limit, 0)]

    def audit_digests(self, *, after: int = 0, limit: int = 1000) -> list[AuditDigest]:
        """Digests after ``after``."""
        with self._lock:
            return self._digests[after : after + max(limit, 0)]

    def seal_digest(self) -> AuditDigest:
        """Seal the tips of all strands into the next digest."""
        with self._lock:
            previous = self._digests[-1] if self._digests else None
            digest = make_digest(tips_of(self._heads, self._strands), previous=previous)
            self._digests.append(digest)
            return digest

    def erase_personal(self, erasure: Erasure) -> ErasureReport:
        """Drop the erasable part of the subjects' audit entries; scrub outbox payloads."""
        subjects = set(erasure.subjects)
        entries = messages = 0
        with self._lock:
            for strand in sorted({strand_of(f"{k}:{i}", self._strands) for k, i in subjects}):
                chain = self._by_strand.get(strand, [])
                for n, entry in enumerate(chain):
                    if entry.personal and (entry.target_kind, entry.target_id) in subjects:
                        erased = erase_personal(entry)
                        chain[n] = erased
                        self._audit[entry.seq - 1] = erased
                        entries += 1
            for message in list(self._outbox.values()) if erasure.values else ():
                payload = scrub_payload(message.payload, erasure.values)
                if payload is not message.payload:
                    self._outbox[message.id] = attrs.evolve(message, payload=payload)
                    messages += 1
        return ErasureReport(entries, messages)

    def outbox_due(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        """Undelivered messages due at ``now``, oldest first."""
        with self._lock:
            due = [
                m
                for m in self._outbox.values()
                if m.delivered_at is None
                and (m.next_attempt_at is None or m.next_attempt_at <= now)
            ]
            return sorted(due, key=lambda m: (m.created_at, m.id))[:limit]

    def _message(self, message_id: str) -> OutboxMessage:
        message = self._outbox.get(message_id)
        if message is None:
            raise NotFound("outbox_message", message_id)
        return message

    def outbox_mark_delivered(self, message_id: str, at: datetime) -> None:
        """Mark a message delivered (idempotent)."""
        with self._lock:
            message = self._message(message_id)
            if message.delivered_at is None:
                self._outbox[message_id] = attrs.evolve(message, delivered_at=at)

    def outbox_mark_failed(self, message_id: str, error: str, retry_at: datetime) -> None:
        """Count a failed attempt and schedule the next one."""
        with self._lock:
            message = self._message(message_id)
            self._outbox[message_id] = attrs.evolve(
                message, attempts=message.attempts + 1, last_error=error, next_attempt_at=retry_at
            )

    def close(self) -> None:
        """Mark the store closed (idempotent)."""
        self.closed = True


class _MemorySession:
    """A session on the in-memory store: reads go straight to committed state."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._open = True

    def _check(self) -> None:
        if not self._open:
            raise StorageError("session is closed")

    def load(self, kind: str, ident: str) -> StoredRecord | None:
        """The committed record or None."""
        self._check()
        return self._store._load(kind, ident)

    def load_many(self, kind: str, idents: Sequence[str]) -> dict[str, StoredRecord]:
        """Committed records among ``idents``."""
        self._check()
        found = {}
        for ident in idents:
            record = self._store._load(kind, ident)
            if record is not None:
                found[ident] = record
        return found

    def load_fields(
        self, kind: str, idents: Sequence[str], fields: Sequence[str]
    ) -> dict[str, tuple[Any, ...]]:
        """Top-level ``fields`` of the committed records among ``idents``, by id."""
        self._check()
        found: dict[str, tuple[Any, ...]] = {}
        for ident in dict.fromkeys(idents):
            record = self._store._load(kind, ident)
            if record is not None:
                found[ident] = tuple(map(record.data.get, fields))
        return found

    def scan(self, kind: str, *, after: str | None = None, limit: int = 100) -> list[StoredRecord]:
        """Up to ``limit`` committed records of ``kind`` after id ``after``, by id."""
        self._check()
        if limit <= 0:
            return []
        with self._store._lock:
            idents = sorted(
                i for k, i in self._store._rows if k == kind and (after is None or i > after)
            )
        found = (self._store._load(kind, ident) for ident in idents[:limit])
        return [record for record in found if record is not None]

    def load_each(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredRecord]:
        """Committed records among ``(kind, id)`` pairs."""
        self._check()
        found = {}
        for kind, ident in refs:
            record = self._store._load(kind, ident)
            if record is not None:
                found[(kind, ident)] = record
        return found

    def find_unique(self, kind: str, key: str) -> str | None:
        """Holder of a unique key."""
        self._check()
        with self._store._lock:
            return self._store._unique.get((kind, key))

    def find_by_key(self, kind: str, key: str, *, limit: int = 100) -> list[str]:
        """Ids holding lookup ``key``."""
        self._check()
        with self._store._lock:
            return sorted(self._store._lookup.get((kind, key), ()))[: max(limit, 0)]

    def find_by_keys(
        self, kind: str, keys: Sequence[str], *, limit: int = 100
    ) -> dict[str, list[str]]:
        """Ids holding each of ``keys`` (keys nobody holds left out)."""
        self._check()
        found: dict[str, list[str]] = {}
        if limit <= 0:
            return found
        with self._store._lock:
            for key in dict.fromkeys(keys):
                holders = self._store._lookup.get((kind, key))
                if holders:
                    found[key] = sorted(holders)[:limit]
        return found

    def query(self, query: IndexQuery) -> list[tuple[str, str]]:
        """Named-index query."""
        self._check()
        return self._store._query(query)

    def count(self, query: IndexQuery) -> int:
        """How many entries ``query`` selects (ignoring ``after`` and ``limit``)."""
        self._check()
        return self._store._count(query)

    def commit(self, commit: Commit) -> None:
        """Apply ``commit`` atomically; the session may not be used afterwards."""
        self._check()
        self._store._commit(commit)
        self._open = False

    def close(self) -> None:
        """Close (idempotent)."""
        self._open = False
