"""Unit of work: one atomic, versioned, audited change set over a storage port.

Use it as a context manager. Aggregates read through its repositories are remembered with
their versions; ``add``/``save`` stage changes; ``record`` stages domain events (they become
outbox messages) and ``audit`` stages audit entries. ``commit()`` hands all of it to the store
in one transaction; leaving the block without committing discards everything.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs

from leadtocash.app.aggregates import AggregateSpec, group_bounds, spec_for
from leadtocash.app.cache import AggregateCache, with_version
from leadtocash.audit import AuditEntry
from leadtocash.collision import DEFAULT_POLICY, CollisionPolicy, blocking_keys, key_texts
from leadtocash.errors import ConcurrencyConflict, NotFound, StorageError
from leadtocash.events import DomainEvent
from leadtocash.model import Contact, Customer, FollowUp, Lead, SalesRep, Team, Zone
from leadtocash.ports.clock import IdSource
from leadtocash.ports.storage import (
    Commit,
    IndexQuery,
    OutboxMessage,
    RecordWrite,
    Store,
    StoredRecord,
    StoreSession,
    VersionCheck,
)
from leadtocash.serialization import structure, unstructure, unstructure_from

__all__ = ["Page", "Repository", "UnitOfWork", "run_with_retries"]

_log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@attrs.frozen
class Page(Generic[T]):
    """One page of a named-index query and the cursor for the next (None at the end)."""

    items: tuple[T, ...]
    next_cursor: tuple[str, str] | None


def _plain_field(value: Any) -> Any:
    """A field of a built aggregate as its stored document has it (enums as their values)."""
    return value.value if isinstance(value, enum.Enum) else value


def _version_of(aggregate: Any) -> int:
    return int(aggregate.version)


class Repository(Generic[T]):
    """Typed access to one aggregate type inside a unit of work."""

    def __init__(self, uow: UnitOfWork, spec: AggregateSpec[T]) -> None:
        self._uow = uow
        self.spec = spec

    def _from_record(self, record: StoredRecord) -> T:
        kind, cache = self.spec.kind, self._uow._cache
        aggregate = None if cache is None else cache.get(kind, record)
        if aggregate is None:
            data = dict(record.data)
            data["version"] = record.version
            aggregate = structure(data, self.spec.type)
            if cache is not None:
                cache.put(kind, record.id, record.version, record.data, aggregate)
        self._uow._loaded[(kind, record.id)] = aggregate
        return aggregate

    def find(self, ident: str) -> T | None:
        """The aggregate with ``ident`` or None (staged changes and earlier reads first).

        A record the spec hides (in the recycle bin) is None here; see :meth:`find_any`.
        """
        found = self.find_any(ident)
        hidden = self.spec.hidden
        return None if found is None or (hidden is not None and hidden(found)) else found

    def find_any(self, ident: str) -> T | None:
        """The aggregate with ``ident`` or None, hidden ones (in the recycle bin) included."""
        key = (self.spec.kind, ident)
        known = self._uow._known(key)
        if known is not None:
            return known  # type: ignore[no-any-return]
        if key in self._uow._absent:
            return None
        record = self._uow._session_or_raise().load(self.spec.kind, ident)
        return None if record is None else self._from_record(record)

    def get(self, ident: str) -> T:
        """The aggregate with ``ident``; NotFound if there is none."""
        found = self.find(ident)
        if found is None:
            raise NotFound(self.spec.kind, ident)
        return found

    def get_many(self, idents: list[str], *, include_hidden: bool = False) -> list[T]:
        """The aggregates that exist among ``idents``, in the order given (staged ones first).

        Records the spec hides (in the recycle bin) are left out unless ``include_hidden``.
        """
        kind = self.spec.kind
        missing = [i for i in idents if self._uow._known((kind, i)) is None]
        if missing:
            for record in self._uow._session_or_raise().load_many(kind, missing).values():
                self._from_record(record)
        found = [self._uow._known((kind, i)) for i in idents]
        hidden = None if include_hidden else self.spec.hidden
        return [a for a in found if a is not None and (hidden is None or not hidden(a))]

    def scan(self, *, after: str | None = None, limit: int = 100) -> list[T]:
        """Up to ``limit`` aggregates of this kind after id ``after``, by id — every one,
        hidden ones (in the recycle bin) included, whatever their indexes."""
        kind = self.spec.kind
        records = self._uow._session_or_raise().scan(kind, after=after, limit=limit)
        return [self._uow._known((kind, r.id)) or self._from_record(r) for r in records]

    def fields_of(self, idents: list[str], names: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """Top-level fields ``names`` of the records among ``idents``, without building them.

        One tuple per record found, in the order given: a staged or already-built aggregate
        gives its attributes, a preloaded record its stored document's values, any other
        record the values the store reads for just these fields (``StoreSession.load_fields``;
        None for a field the document lacks). Nothing is structured or cached, so reading a
        few fields of many records (a duplicate check's candidates) costs little and leaves no
        objects behind. Hidden records are *not* left out: ask for the fields that say so
        (``deleted``). Meant for plain fields (strings, ids, enums as their values, None): a
        built aggregate's other values (times, nested values) are not turned back into their
        stored form.
        """
        kind, uow = self.spec.kind, self._uow
        missing = [i for i in idents if uow._unread((kind, i))]
        stored = uow._session_or_raise().load_fields(kind, missing, names) if missing else {}
        out: list[tuple[Any, ...]] = []
        for ident in idents:
            key = (kind, ident)
            known = uow._staged.get(key) or uow._loaded.get(key)
            if known is not None:
                out.append(tuple(_plain_field(getattr(known, name, None)) for name in names))
                continue
            fetched = uow._fetched.get(key)
            if fetched is not None:
                out.append(tuple(map(fetched[1].data.get, names)))
            elif ident in stored:
                out.append(stored[ident])
        return out

    def find_unique(self, key: str) -> T | None:
        """The aggregate holding unique (dedup) ``key``, or None."""
        ident = self._uow._session_or_raise().find_unique(self.spec.kind, key)
        return None if ident is None else self.find(ident)

    def find_ids_by_key(self, key: str, *, limit: int = 100) -> list[str]:
        """The ids (ascending, at most ``limit``) of the records holding lookup ``key``."""
        return self._uow._session_or_raise().find_by_key(self.spec.kind, key, limit=limit)

    def find_ids_by_keys(self, keys: list[str], *, limit: int = 100) -> dict[str, list[str]]:
        """For each of ``keys``, the ids (ascending, at most ``limit``) of the records holding
        it, in one store call; keys nobody holds are left out (none asked for none given)."""
        if not keys:
            return {}
        return self._uow._session_or_raise().find_by_keys(self.spec.kind, keys, limit=limit)

    def find_by_key(self, key: str, *, limit: int = 100) -> list[T]:
        """The aggregates holding lookup (dedup) ``key`` such as ``phone:+86…``, by id."""
        idents = self._uow._session_or_raise().find_by_key(self.spec.kind, key, limit=limit)
        return [found for ident in idents if (found := self.find(ident)) is not None]

    def query(
        self,
        index: str,
        *,
        equals: str | None = None,
        at_least: str | None = None,
        below: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
        include_hidden: bool = False,
    ) -> Page[T]:
        """One page of aggregates from named ``index`` in (value, id) order."""
        hits = self.index_entries(
            index, equals=equals, at_least=at_least, below=below, after=after, limit=limit
        )
        items = self.get_many([ident for _, ident in hits], include_hidden=include_hidden)
        cursor = hits[-1] if len(hits) == limit and hits else None
        return Page(tuple(items), cursor)

    def _declared(self, query: IndexQuery) -> IndexQuery:
        """``query``, once it is known to ask this kind's records by a queried index."""
        if query.kind != self.spec.kind or query.index not in self.spec.queried:
            raise ValueError(
                f"{query.kind}.{query.index} is not an index the {self.spec.kind} repository "
                "queries: add it to the AggregateSpec's queried indexes"
            )
        return query

    def select(self, query: IndexQuery) -> Page[T]:
        """One page of aggregates for a whole index query (``where`` clauses included)."""
        hits = self._uow._session_or_raise().query(self._declared(query))
        items = self.get_many([ident for _, ident in hits])
        cursor = hits[-1] if hits and len(hits) == query.limit else None
        return Page(tuple(items), cursor)

    def count(self, query: IndexQuery) -> int:
        """How many records an index query selects (its cursor and limit ignored)."""
        return self._uow._session_or_raise().count(self._declared(query))

    def query_group(
        self, index: str, key: str, *, after: tuple[str, str] | None = None, limit: int = 100
    ) -> Page[T]:
        """One page of the aggregates filed under ``key`` in a grouped index, in their order."""
        at_least, below = group_bounds(key)
        return self.query(index, at_least=at_least, below=below, after=after, limit=limit)

    def whole_group(self, index: str, key: str, *, page: int = 200) -> list[T]:
        """Every aggregate filed under ``key`` in a grouped index, in order, ``page`` a read."""
        found: list[T] = []
        cursor: tuple[str, str] | None = None
        while True:
            hits = self.query_group(index, key, after=cursor, limit=page)
            found.extend(hits.items)
            if hits.next_cursor is None:
                return found
            cursor = hits.next_cursor

    def index_entries(
        self,
        index: str,
        *,
        equals: str | None = None,
        at_least: str | None = None,
        below: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[tuple[str, str]]:
        """Raw ``(value, id)`` pairs of a named index, without loading the aggregates."""
        query = IndexQuery(
            self.spec.kind, index, equals=equals, at_least=at_least, below=below,
            after=after, limit=limit,
        )  # fmt: skip
        return self._uow._session_or_raise().query(self._declared(query))

    def all_ids(
        self,
        index: str,
        *,
        equals: str | None = None,
        at_least: str | None = None,
        below: str | None = None,
        page: int = 500,
    ) -> list[str]:
        """Every id in a named-index range, in (value, id) order, read ``page`` entries at a
        time; no aggregate is built (what a sweep or a merge has to find)."""
        ids: list[str] = []
        after: tuple[str, str] | None = None
        while True:
            hits = self.index_entries(
                index, equals=equals, at_least=at_least, below=below, after=after, limit=page
            )
            ids.extend(ident for _, ident in hits)
            if len(hits) < page:
                return ids
            after = hits[-1]

    def add(self, aggregate: T) -> None:
        """Stage a new aggregate (its version must be 0)."""
        if _version_of(aggregate) != 0:
            raise ValueError("new aggregates have version 0")
        self._uow._stage(self.spec, aggregate)

    def save(self, aggregate: T) -> None:
        """Stage a changed aggregate; commit fails if someone else saved it first."""
        self._uow._stage(self.spec, aggregate)


class UnitOfWork:
    """An atomic change set: repositories, staged events and audit entries, commit/rollback."""

    def __init__(
        self,
        store: Store,
        ids: IdSource,
        *,
        collision: CollisionPolicy = DEFAULT_POLICY,
        cache: AggregateCache | None = None,
    ) -> None:
        self._store = store
        # Aggregates kept between units of work (app/cache.py); None structures every read.
        self._cache = cache
        self._ids = ids
        self._collision = collision
        self._session: StoreSession | None = None
        self._staged: dict[tuple[str, str], Any] = {}
        self._loaded: dict[tuple[str, str], Any] = {}
        # Preloaded records not structured yet, and preloaded keys the store did not have.
        self._fetched: dict[tuple[str, str], tuple[AggregateSpec[Any], StoredRecord]] = {}
        self._absent: set[tuple[str, str]] = set()
        self._specs: dict[tuple[str, str], AggregateSpec[Any]] = {}
        self._events: list[DomainEvent] = []
        self._audit: list[AuditEntry] = []
        # Read aggregates the commit rests on: (kind, id) -> the version read.
        self._unchanged: dict[tuple[str, str], int] = {}
        self._plain: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._repositories: dict[type[Any], Repository[Any]] = {}
        self.committed = False

    # The repositories most commands use, made when first used (a claim needs two of them).
    @property
    def leads(self) -> Repository[Lead]:
        """Leads."""
        return self.repository(Lead)

    @property
    def customers(self) -> Repository[Customer]:
        """Customers."""
        return self.repository(Customer)

    @property
    def contacts(self) -> Repository[Contact]:
        """Contacts."""
        return self.repository(Contact)

    @property
    def reps(self) -> Repository[SalesRep]:
        """Sales reps."""
        return self.repository(SalesRep)

    @property
    def teams(self) -> Repository[Team]:
        """Teams."""
        return self.repository(Team)

    @property
    def zones(self) -> Repository[Zone]:
        """Zones."""
        return self.repository(Zone)

    @property
    def follow_ups(self) -> Repository[FollowUp]:
        """Follow-up records."""
        return self.repository(FollowUp)

    def repository(self, cls: type[T]) -> Repository[T]:
        """A repository for any registered aggregate type."""
        found = self._repositories.get(cls)
        if found is None:
            found = self._repositories[cls] = Repository(self, spec_for(cls))
        return found

    def __enter__(self) -> UnitOfWork:
        if self._session is not None:
            raise RuntimeError("a unit of work is entered once")
        self._session = self._store.session()
        return self

    def __exit__(self, *exc: object) -> None:
        self.rollback()

    def preload(self, *refs: tuple[type[Any], str | None]) -> None:
        """Read several aggregates of any types in one store call, for the reads that follow.

        ``refs`` are ``(aggregate type, id)`` pairs; ids that are None, staged or already read
        are skipped. Records are turned into aggregates when first used, so preloading one
        that the command turns out not to need costs little; an aggregate the store does not
        have is remembered as missing (``find`` returns None without asking again). Commands
        call this when they know, or can guess, what they will read next.
        """
        specs: dict[tuple[str, str], AggregateSpec[Any]] = {}
        for aggregate_type, ident in refs:
            if ident is None:
                continue
            spec = spec_for(aggregate_type)
            key = (spec.kind, ident)
            if key not in self._absent and self._known(key) is None:
                specs[key] = spec
        if not specs:
            return
        records = self._session_or_raise().load_each(list(specs))
        for key, spec in specs.items():
            record = records.get(key)
            if record is None:
                self._absent.add(key)
            else:
                self._fetched[key] = (spec, record)

    def _built(self, key: tuple[str, str]) -> Any:
        """The staged or already-built aggregate under ``(kind, id)``, or None (a preloaded
        record not built yet is None here)."""
        return self._staged.get(key) or self._loaded.get(key)

    def _unread(self, key: tuple[str, str]) -> bool:
        """True when ``(kind, id)`` is neither staged, built, preloaded nor known missing."""
        return self._built(key) is None and key not in self._fetched and key not in self._absent

    def _known(self, key: tuple[str, str]) -> Any:
        """The staged or already-read aggregate under ``(kind, id)``, or None."""
        found = self._staged.get(key) or self._loaded.get(key)
        if found is None and key in self._fetched:
            spec, record = self._fetched.pop(key)
            found = self.repository(spec.type)._from_record(record)
        return found

    def _session_or_raise(self) -> StoreSession:
        if self._session is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return self._session

    def _stage(self, spec: AggregateSpec[Any], aggregate: Any) -> None:
        key = (spec.kind, str(aggregate.id))
        self._staged[key] = aggregate
        self._specs[key] = spec

    def expect_unchanged(self, aggregate: Any) -> None:
        """Commit only if ``aggregate`` (as read here) is still at its version then.

        For an aggregate the command's decision rests on without writing it — the customer
        whose owner authorized an invoice, whose record a new document is filed under: a
        concurrent change of it (a release, a transfer, a merge) makes the commit conflict
        and the command run again on fresh reads. An aggregate the command also saves, or a
        new one, needs nothing more (its write is versioned).
        """
        version = _version_of(aggregate)
        if version > 0:
            key = (spec_for(type(aggregate)).kind, str(aggregate.id))
            self._unchanged.setdefault(key, version)

    def _checks(self) -> list[VersionCheck]:
        return [
            VersionCheck(kind, ident, version)
            for (kind, ident), version in self._unchanged.items()
            if (kind, ident) not in self._staged
        ]

    def record(self, event: DomainEvent) -> None:
        """Stage a domain event; it is written to the outbox by commit."""
        self._events.append(event)

    def audit(self, entry: AuditEntry) -> None:
        """Stage an audit entry; the store seals it onto the hash chain at commit."""
        self._audit.append(entry)

    @property
    def staged_events(self) -> tuple[DomainEvent, ...]:
        """Events staged so far (read-only view)."""
        return tuple(self._events)

    def plain(self, value: Any, base: Any = None) -> dict[str, Any]:
        """``value`` unstructured without its ``version``: what is stored and audited.

        Values are frozen, so each object is unstructured once per unit of work even though
        both its record write and its audit snapshot need it. ``base``, the value ``value``
        was made from (a change's before), has only the fields that differ unstructured
        (``serialization.unstructure_from``). Treat the result as read-only.
        """
        cached = self._plain.get(id(value))
        if cached is not None and cached[0] is value:
            return cached[1]
        if base is not None and type(base) is type(value) and attrs.has(type(value)):
            data = unstructure_from(value, base, self.plain(base))
        else:
            data = unstructure(value)
            if isinstance(data, dict):
                data.pop("version", None)
            else:
                data = {"value": data}
        self._plain[id(value)] = (value, data)  # holding ``value`` keeps its id unique
        return data

    def _writes(self) -> list[RecordWrite]:
        writes = []
        for key, aggregate in self._staged.items():
            spec = self._specs[key]
            data = self.plain(aggregate)
            dedup = spec.dedup_keys(aggregate)
            unique = spec.unique_keys(aggregate)
            if spec.dedup_unique:
                unique |= self._collision.unique_keys(dedup)
            writes.append(
                RecordWrite(
                    kind=spec.kind,
                    id=key[1],
                    expected_version=_version_of(aggregate),
                    data=data,
                    indexes=dict(spec.indexes(aggregate)),
                    unique_keys=unique,
                    lookup_keys=key_texts(dedup) | blocking_keys(dedup),
                )
            )
        return writes

    def _outbox(self) -> list[OutboxMessage]:
        messages = []
        for event in self._events:
            message_id = self._ids.new_id("outbox")
            messages.append(
                OutboxMessage(
                    id=message_id,
                    topic=event.topic,
                    payload=unstructure(event),
                    created_at=event.occurred_at,
                    idempotency_key=message_id,
                )
            )
        return messages

    def commit(self) -> None:
        """Save every staged change atomically, or raise and save nothing."""
        session = self._session_or_raise()
        if self.committed:
            raise RuntimeError("this unit of work was already committed")
        writes, outbox = self._writes(), self._outbox()
        # Checks guard what is saved: a commit that saves nothing needs none.
        checks = self._checks() if writes or self._audit or outbox else []
        commit = Commit(writes, tuple(self._audit), outbox, checks)
        session.commit(commit)
        self.committed = True
        if self._cache is not None:  # the next command reads these without structuring them
            for write in commit.writes:
                aggregate = self._staged[(write.kind, write.id)]
                self._cache.put(write.kind, write.id, write.new_version, write.data, aggregate)
        _log.debug(
            "committed %d writes, %d audit entries, %d outbox messages",
            len(commit.writes), len(commit.audit), len(commit.outbox),
        )  # fmt: skip

    def as_committed(self, value: R) -> R:
        """``value`` as the commit stored it: an aggregate saved here carries its new version.

        Lets a command return what it saved (``version`` 1 for a new one) without knowing
        how storage counts versions. Anything else is returned unchanged.
        """
        if not self.committed:
            return value
        try:
            spec = spec_for(type(value))
        except TypeError:  # not an aggregate
            return value
        staged = self._staged.get((spec.kind, str(value.id)))  # type: ignore[attr-defined]
        if staged is None or (staged is not value and staged != value):
            return value
        return with_version(value, _version_of(staged) + 1)  # type: ignore[no-any-return]

    def rollback(self) -> None:
        """Discard staged changes and release the session (idempotent)."""
        self._staged.clear()
        self._loaded.clear()
        self._fetched.clear()
        self._absent.clear()
        self._specs.clear()
        self._events.clear()
        self._audit.clear()
        self._unchanged.clear()
        self._plain.clear()
        if self._session is not None:
            self._session.close()


def run_with_retries(
    make_uow: Callable[[], UnitOfWork],
    work: Callable[[UnitOfWork], R],
    *,
    attempts: int = 5,
    on_conflict: Callable[[int], None] | None = None,
) -> R:
    """Run ``work`` in a fresh unit of work, retrying retryable storage errors a bounded time.

    ``work`` must commit itself. When every attempt conflicts, the last ConcurrencyConflict
    (or other retryable StorageError) is raised; nothing was saved by the failed attempts.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    for attempt in range(1, attempts + 1):
        try:
            with make_uow() as uow:
                return work(uow)
        except (ConcurrencyConflict, StorageError) as exc:
            if not exc.retryable or attempt == attempts:
                _log.debug("giving up after attempt %d of %d: %s", attempt, attempts, exc)
                raise
            _log.debug("attempt %d of %d failed (%s); retrying", attempt, attempts, exc.code)
            if on_conflict is not None:
                on_conflict(attempt)
    raise AssertionError("unreachable")
