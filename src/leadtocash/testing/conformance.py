"""The storage conformance suite: subclass ``StoreConformance`` to test your adapter.

Usage (in your adapter's test module)::

    from leadtocash.testing.conformance import StoreConformance

    class TestMyStore(StoreConformance):
        def make_store(self) -> Store:
            return MyStore.connect(...)   # must be EMPTY (fresh database or truncated)

pytest then runs every contract test of the storage port (module docstring of
``leadtocash.ports.storage``) against your store, plus a hypothesis state machine that runs
random command sequences against your store and the in-memory reference and compares them.
Needs pytest and hypothesis (the ``test`` extra).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from leadtocash.app.auditing import verify_store_audit
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.audit import (
    COMMITMENT_KEY,
    AuditEntry,
    prove_inclusion,
    strand_of,
    verify_audit,
    verify_audit_chain,
    verify_inclusion,
)
from leadtocash.errors import ConcurrencyConflict, DuplicateKey, NotFound, StorageError
from leadtocash.model import Customer
from leadtocash.ports.storage import (
    ERASED,
    Commit,
    Erasure,
    IndexFilter,
    IndexQuery,
    OutboxMessage,
    RecordWrite,
    Store,
    VersionCheck,
)
from leadtocash.testing.fakes import SequentialIds
from leadtocash.testing.memory import InMemoryStore
from leadtocash.testing.strategies import aggregates

__all__ = ["StoreConformance"]

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _write(
    ident: str,
    version: int = 0,
    data: dict[str, Any] | None = None,
    *,
    kind: str = "thing",
    indexes: dict[str, str | None] | None = None,
    keys: frozenset[str] = frozenset(),
    lookups: frozenset[str] = frozenset(),
) -> RecordWrite:
    return RecordWrite(
        kind=kind,
        id=ident,
        expected_version=version,
        data=data if data is not None else {"name": ident},
        indexes=indexes or {},
        unique_keys=keys,
        lookup_keys=lookups,
    )


def _audit(n: int, target: str = "x") -> AuditEntry:
    return AuditEntry(
        id=f"audit-{target}-{n}",
        at=T0 + timedelta(seconds=n),
        actor_id="tester",
        action="thing.change",
        target_kind="thing",
        target_id=target,
        before={"n": n - 1},
        after={"n": n, "名": "华为"},
        reason="conformance",
    )


#: A person's data in the erasure tests, and fixed salts (the same hashes on every store).
_PHONE, _EMAIL, _NAME = "+8613912345678", "wang.fang@example.cn", "王芳"
_SALTS = {"name": "11" * 16, "phone": "22" * 16, "email": "33" * 16}


def _personal(n: int, target: str, *, phone: str = _PHONE) -> AuditEntry:
    person = {"name": _NAME, "phone": phone, "email": _EMAIL, "title": "经理", "n": n}
    return AuditEntry(
        id=f"audit-{target}-{n}",
        at=T0 + timedelta(seconds=n),
        actor_id="tester",
        action="contact.change",
        target_kind="contact",
        target_id=target,
        before=None if n == 1 else {**person, "n": n - 1, "email": None},
        after=person,
        reason="conformance",
        personal=_SALTS,
    )


def _message(ident: str, created: datetime = T0) -> OutboxMessage:
    return OutboxMessage(
        id=ident,
        topic="thing.changed",
        payload={"id": ident, "nested": {"list": [1, 2, 3]}},
        created_at=created,
        idempotency_key=f"key-{ident}",
    )


class StoreConformance:
    """Every contract test of the storage port; subclass and implement ``make_store``."""

    #: How many examples the hypothesis tests run; lower it for slow engines.
    hypothesis_examples = 25
    #: Threads used by the concurrency tests.
    threads = 8

    def make_store(self) -> Store:
        """Return a new, EMPTY store for one test."""
        raise NotImplementedError

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        """An empty store, closed after the test."""
        made = self.make_store()
        try:
            yield made
        finally:
            made.close()

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def commit(store: Store, *writes: RecordWrite, audit: tuple[AuditEntry, ...] = (),
               outbox: tuple[OutboxMessage, ...] = ()) -> None:  # fmt: skip
        """Commit ``writes`` (plus audit/outbox) in one new session."""
        session = store.session()
        try:
            session.commit(Commit(writes, audit, outbox))
        finally:
            session.close()

    @staticmethod
    def checked(store: Store, checks: list[VersionCheck], *writes: RecordWrite,
                audit: tuple[AuditEntry, ...] = ()) -> None:  # fmt: skip
        """Commit ``writes`` (plus audit) with version ``checks`` in one new session."""
        session = store.session()
        try:
            session.commit(Commit(writes, audit, (), checks))
        finally:
            session.close()

    @staticmethod
    def version(store: Store, ident: str, kind: str = "thing") -> int:
        """Stored version of a record, 0 when absent."""
        session = store.session()
        try:
            record = session.load(kind, ident)
            return 0 if record is None else record.version
        finally:
            session.close()

    @staticmethod
    def query(store: Store, query: IndexQuery) -> list[tuple[str, str]]:
        """Run one index query in a new session."""
        session = store.session()
        try:
            return session.query(query)
        finally:
            session.close()

    @staticmethod
    def counted(store: Store, query: IndexQuery) -> int:
        """Count what one index query selects, in a new session."""
        session = store.session()
        try:
            return session.count(query)
        finally:
            session.close()

    # -- records and versions -----------------------------------------------------------------
    def test_insert_then_load_round_trips_json_exactly(self, store: Store) -> None:
        data = {
            "name": "华为技术有限公司 ＡＢＣ 'quote' \"dq\" \\ \n tab\t",
            "n": 2**53 + 1,
            "neg": -7,
            "flag": True,
            "none": None,
            "nested": {"list": [1, "two", {"three": [3.0]}], "empty": {}},
            "amount": "12345678901234567890.12",
        }
        self.commit(store, _write("a", data=data))
        session = store.session()
        try:
            record = session.load("thing", "a")
            assert record is not None
            assert (record.kind, record.id, record.version) == ("thing", "a", 1)
            assert dict(record.data) == data
            assert session.load("thing", "missing") is None
            assert session.load("other-kind", "a") is None
        finally:
            session.close()

    def test_each_write_increments_the_version(self, store: Store) -> None:
        self.commit(store, _write("a"))
        self.commit(store, _write("a", 1, {"name": "v2"}))
        self.commit(store, _write("a", 2, {"name": "v3"}))
        session = store.session()
        try:
            record = session.load("thing", "a")
            assert record is not None
            assert record.version == 3
            assert record.data["name"] == "v3"
        finally:
            session.close()

    def test_load_many_returns_only_existing(self, store: Store) -> None:
        self.commit(store, _write("a"), _write("b"), _write("c"))
        session = store.session()
        try:
            found = session.load_many("thing", ["a", "c", "zz"])
            assert sorted(found) == ["a", "c"]
            assert found["c"].data == {"name": "c"}
            assert session.load_many("thing", []) == {}
        finally:
            session.close()

    def test_load_each_reads_several_kinds_at_once(self, store: Store) -> None:
        self.commit(store, _write("a"), _write("b"), RecordWrite("other", "a", 0, {"o": 1}))
        self.commit(store, _write("b", 1, {"name": "b2"}))
        session = store.session()
        try:
            refs = [("thing", "b"), ("other", "a"), ("thing", "zz"), ("nothing", "a")]
            found = session.load_each([*refs, ("thing", "b")])
            assert sorted(found) == [("other", "a"), ("thing", "b")]
            thing = found[("thing", "b")]
            assert (thing.kind, thing.id, thing.version) == ("thing", "b", 2)
            assert thing.data == {"name": "b2"}
            assert found[("other", "a")].kind == "other"
            assert found[("other", "a")].data == {"o": 1}
            assert session.load_each([]) == {}
        finally:
            session.close()

    def test_reads_by_ids_take_any_text_as_one_id(self, store: Store) -> None:
        # Ids and kinds with what array literals, lists and SQL treat specially.
        odd = ["a,b", "{c}", 'say "hi"', "back\\slash\\", "NULL", " spaced ", "é中", "it's", ""]
        self.commit(store, *(_write(ident, 0, {"name": ident}) for ident in odd))
        self.commit(store, RecordWrite('k"{,}\\', "x,y", 0, {"o": 1}), _write("plain"))
        session = store.session()
        try:
            found = session.load_many("thing", [*odd, "a", "b", "c"])
            assert sorted(found) == sorted(odd)
            assert all(found[ident].data == {"name": ident} for ident in odd)
            refs = [("thing", ident) for ident in odd] + [('k"{,}\\', "x,y"), ("k", "x")]
            each = session.load_each(refs)
            assert sorted(each) == sorted(refs[:-1])
            assert each[('k"{,}\\', "x,y")].data == {"o": 1}
        finally:
            session.close()

    def test_load_fields_gives_what_load_gives_field_by_field(self, store: Store) -> None:
        exotic = {
            "name": "华为技术有限公司 ＡＢＣ 'quote' \"dq\" \\ \n tab\t $.x",
            "n": 2**53 + 1,
            "big": 10**30,
            "ratio": 0.1 + 0.2,
            "tiny": 1e-7,
            "huge": 1e300,
            "neg_zero": -0.0,
            "flag": True,
            "off": False,
            "none": None,
            "nested": {"list": [1, "two", {"three": [3.0]}], "empty": {}, "b": 1, "a": 2},
            "list": [None, "x"],
        }
        self.commit(
            store,
            _write("a", data=exotic),
            _write("b", data={"name": "b", "only": 1}),
            _write("c", data={"name": "c", "nested": {"b": [1, 2.5, None], "a": "是"}, "n": 7}),
            RecordWrite("other", "a", 0, {"name": "other"}),
        )
        self.commit(store, _write("b", 1, {"name": "b2"}))
        fields = [*exotic, "missing"]
        session = store.session()
        try:
            found = session.load_fields("thing", ["b", "zz", "a", "c", "b"], fields)
            assert sorted(found) == ["a", "b", "c"]
            for ident in ("a", "b", "c"):
                record = session.load("thing", ident)
                assert record is not None
                assert found[ident] == tuple(record.data.get(f) for f in fields)
            assert found["a"][:2] == (exotic["name"], 2**53 + 1)
            assert session.load_fields("thing", ["a"], ["name"]) == {"a": (exotic["name"],)}
            assert session.load_fields("thing", ["b"], ["only"]) == {"b": (None,)}
            assert session.load_fields("thing", ["a", "b"], []) == {"a": (), "b": ()}
            assert session.load_fields("other", ["a"], ["name"]) == {"a": ("other",)}
            assert session.load_fields("thing", [], ["name"]) == {}
            many = [f"x{n}" for n in range(700)] + ["a"]  # past one statement's worth of ids
            assert session.load_fields("thing", many, ["name"]) == {"a": (exotic["name"],)}
        finally:
            session.close()

    def test_scan_pages_every_record_of_a_kind_by_id(self, store: Store) -> None:
        idents = ["b", "a", "é", "a-1", "Z", "aa", "中"]
        self.commit(store, *(_write(i) for i in idents), RecordWrite("other", "a0", 0, {"o": 1}))
        self.commit(store, _write("aa", 1, {"name": "aa2"}))
        session = store.session()
        try:
            pages, cursor = [], None
            while True:
                page = session.scan("thing", after=cursor, limit=3)
                pages.append(page)
                if len(page) < 3:
                    break
                cursor = page[-1].id
            found = [record for page in pages for record in page]
            assert [r.id for r in found] == sorted(idents)  # code-point order
            assert all(len(page) <= 3 for page in pages)
            aa = next(r for r in found if r.id == "aa")
            assert (aa.kind, aa.version, aa.data) == ("thing", 2, {"name": "aa2"})
            assert [r.id for r in session.scan("other")] == ["a0"]
            assert session.scan("thing", after="中") == []
            assert session.scan("thing", limit=0) == []
            assert session.scan("nothing") == []
        finally:
            session.close()

    def test_stale_version_raises_conflict_and_saves_nothing(self, store: Store) -> None:
        self.commit(store, _write("a"), _write("b"))
        self.commit(store, _write("a", 1, {"name": "a2"}))
        with pytest.raises(ConcurrencyConflict) as caught:
            self.commit(
                store,
                _write("b", 1, {"name": "b2"}),
                _write("a", 1, {"name": "stale"}),
                _write("new", 0),
                audit=(_audit(1),),
                outbox=(_message("m1"),),
            )
        assert caught.value.retryable
        assert isinstance(caught.value, StorageError)
        assert self.version(store, "a") == 2
        assert self.version(store, "b") == 1
        assert self.version(store, "new") == 0
        assert store.audit_log() == []
        assert store.outbox_due(T0 + timedelta(days=1)) == []

    def test_inserting_an_existing_id_conflicts(self, store: Store) -> None:
        self.commit(store, _write("a"))
        with pytest.raises(ConcurrencyConflict):
            self.commit(store, _write("a", 0, {"name": "again"}))
        with pytest.raises(ConcurrencyConflict):
            self.commit(store, _write("ghost", 3))

    def test_uncommitted_session_discards_everything(self, store: Store) -> None:
        session = store.session()
        session.close()
        session.close()  # idempotent
        assert self.version(store, "a") == 0
        assert store.audit_log() == []

    def test_kinds_are_separate_namespaces(self, store: Store) -> None:
        self.commit(store, _write("a", kind="lead"), _write("a", kind="customer"))
        assert self.version(store, "a", "lead") == 1
        assert self.version(store, "a", "customer") == 1

    # -- unique keys ----------------------------------------------------------------------------
    def test_unique_key_clash_raises_and_saves_nothing(self, store: Store) -> None:
        self.commit(store, _write("a", keys=frozenset({"uscc:1"})))
        with pytest.raises(DuplicateKey) as caught:
            self.commit(
                store, _write("z"), _write("b", keys=frozenset({"uscc:1"})), audit=(_audit(1),)
            )
        assert caught.value.key == "uscc:1"
        assert caught.value.existing_id == "a"
        assert self.version(store, "z") == 0
        assert store.audit_log() == []
        session = store.session()
        try:
            assert session.find_unique("thing", "uscc:1") == "a"
            assert session.find_unique("thing", "uscc:2") is None
            assert session.find_unique("other", "uscc:1") is None
        finally:
            session.close()

    def test_unique_keys_are_per_kind(self, store: Store) -> None:
        key = frozenset({"name:华为技术"})
        self.commit(
            store, _write("a", kind="lead", keys=key), _write("b", kind="customer", keys=key)
        )
        assert self.version(store, "b", "customer") == 1

    def test_same_key_twice_in_one_commit_is_rejected(self, store: Store) -> None:
        key = frozenset({"k"})
        with pytest.raises(DuplicateKey):
            self.commit(store, _write("a", keys=key), _write("b", keys=key))
        assert self.version(store, "a") == 0

    def test_updating_keys_releases_old_ones(self, store: Store) -> None:
        self.commit(store, _write("a", keys=frozenset({"k1", "k2"})))
        self.commit(store, _write("a", 1, keys=frozenset({"k2", "k3"})))
        self.commit(store, _write("b", keys=frozenset({"k1"})))
        with pytest.raises(DuplicateKey):
            self.commit(store, _write("c", keys=frozenset({"k3"})))
        session = store.session()
        try:
            assert session.find_unique("thing", "k1") == "b"
            assert session.find_unique("thing", "k2") == "a"
            assert session.find_unique("thing", "k3") == "a"
        finally:
            session.close()

    def test_keys_can_move_between_records_in_one_commit(self, store: Store) -> None:
        self.commit(store, _write("a", keys=frozenset({"k"})), _write("b"))
        self.commit(store, _write("a", 1), _write("b", 1, keys=frozenset({"k"})))
        session = store.session()
        try:
            assert session.find_unique("thing", "k") == "b"
        finally:
            session.close()

    # -- lookup keys ----------------------------------------------------------------------------
    def test_lookup_keys_are_shared_replaced_and_per_kind(self, store: Store) -> None:
        phone = "phone:+8613800138000"
        self.commit(
            store,
            _write("b", lookups=frozenset({phone, "email:x@y.cn"})),
            _write("a", lookups=frozenset({phone})),
            _write("a", kind="lead", lookups=frozenset({phone})),
        )
        session = store.session()
        try:
            assert session.find_by_key("thing", phone) == ["a", "b"]
            assert session.find_by_key("thing", phone, limit=1) == ["a"]
            assert session.find_by_key("lead", phone) == ["a"]
            assert session.find_by_key("thing", "phone:unknown") == []
        finally:
            session.close()
        self.commit(store, _write("b", 1, lookups=frozenset({"email:x@y.cn"})))
        with pytest.raises(ConcurrencyConflict):
            self.commit(store, _write("a", 0, lookups=frozenset({"email:x@y.cn"})))
        session = store.session()
        try:
            assert session.find_by_key("thing", phone) == ["a"]
            assert session.find_by_key("thing", "email:x@y.cn") == ["b"]
        finally:
            session.close()

    def test_find_by_keys_answers_each_key_as_find_by_key_does(self, store: Store) -> None:
        phone, mail, odd = "phone:+8613800138000", "email:x@y.cn", "blk:华为'%_\\技术"
        self.commit(
            store,
            _write("b", lookups=frozenset({phone, mail})),
            _write("a", lookups=frozenset({phone, odd})),
            _write("B", lookups=frozenset({phone})),
            _write("东", lookups=frozenset({odd})),
            _write("a", kind="lead", lookups=frozenset({mail})),
            *[_write(f"m{n:03d}", lookups=frozenset({f"many:{n % 7}"})) for n in range(140)],
        )
        keys = [mail, "phone:unknown", phone, odd, mail, *[f"many:{n}" for n in range(9)]]
        keys += [f"none:{n}" for n in range(230)]  # past one statement's worth of keys
        session = store.session()
        try:
            for limit in (100, 3, 1):
                expected = {
                    key: found
                    for key in keys
                    if (found := session.find_by_key("thing", key, limit=limit))
                }
                assert session.find_by_keys("thing", keys, limit=limit) == expected
            assert session.find_by_keys("thing", [phone, odd]) == {
                phone: ["B", "a", "b"],
                odd: ["a", "东"],
            }
            assert session.find_by_keys("lead", [phone, mail]) == {mail: ["a"]}
            assert session.find_by_keys("thing", []) == {}
            assert session.find_by_keys("thing", [phone], limit=0) == {}
            assert session.find_by_keys("other", [phone]) == {}
        finally:
            session.close()

    def test_find_by_keys_matches_find_by_key_on_random_holders(self, store: Store) -> None:
        """Whatever records hold, a batched lookup answers every key as one lookup each."""
        from hypothesis import given

        runs = iter(range(1_000_000))
        key_names = st.sampled_from([f"k{n}" for n in range(8)] + ["名:华为", "blk:a b"])

        @settings(
            max_examples=self.hypothesis_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(
            holders=st.dictionaries(
                st.sampled_from(["a", "b", "c", "B", "d1", "d10", "d2", "东"]),
                st.frozensets(key_names, max_size=4),
            ),
            asked=st.lists(key_names | st.text(_KEY_CHARACTERS, max_size=3), max_size=12),
            limit=st.integers(0, 5),
        )
        def check(holders: dict[str, frozenset[str]], asked: list[str], limit: int) -> None:
            kind = f"batched{next(runs)}"
            if holders:
                self.commit(store, *[_write(i, kind=kind, lookups=k) for i, k in holders.items()])
            session = store.session()
            try:
                batched = session.find_by_keys(kind, asked, limit=limit)
                one_by_one = {key: session.find_by_key(kind, key, limit=limit) for key in asked}
            finally:
                session.close()
            assert batched == {key: ids for key, ids in one_by_one.items() if ids}

        check()

    # -- named index queries --------------------------------------------------------------------
    def test_index_equals_and_ranges_in_value_then_id_order(self, store: Store) -> None:
        rows = {"c": "2026-01-03", "a": "2026-01-01", "b": "2026-01-03", "d": None, "e": "2026-02"}
        self.commit(store, *[_write(i, indexes={"due": v}) for i, v in rows.items()])
        everything = self.query(store, IndexQuery("thing", "due", limit=100))
        assert everything == [
            ("2026-01-01", "a"),
            ("2026-01-03", "b"),
            ("2026-01-03", "c"),
            ("2026-02", "e"),
        ]
        assert self.query(store, IndexQuery("thing", "due", equals="2026-01-03")) == [
            ("2026-01-03", "b"),
            ("2026-01-03", "c"),
        ]
        ranged = IndexQuery("thing", "due", at_least="2026-01-02", below="2026-02")
        assert self.query(store, ranged) == [("2026-01-03", "b"), ("2026-01-03", "c")]
        assert self.query(store, IndexQuery("thing", "due", below="2026-01-01")) == []
        assert self.query(store, IndexQuery("thing", "other")) == []
        assert self.query(store, IndexQuery("thing", "due", limit=1)) == [("2026-01-01", "a")]

    def test_index_order_is_code_point_order(self, store: Store) -> None:
        values = ["B", "a", "Z", "华", "é", "0", "~", "中"]
        self.commit(store, *[_write(f"r{i}", indexes={"name": v}) for i, v in enumerate(values)])
        got = [v for v, _ in self.query(store, IndexQuery("thing", "name"))]
        assert got == sorted(values)

    def test_keyset_paging_visits_every_entry_once(self, store: Store) -> None:
        writes = [_write(f"id{i:03d}", indexes={"pool": f"p{i % 3}"}) for i in range(40)]
        self.commit(store, *writes)
        seen: list[tuple[str, str]] = []
        cursor: tuple[str, str] | None = None
        while True:
            page = self.query(
                store, IndexQuery("thing", "pool", equals="p1", after=cursor, limit=4)
            )
            seen.extend(page)
            if len(page) < 4:
                break
            cursor = page[-1]
        expected = sorted(("p1", f"id{i:03d}") for i in range(40) if i % 3 == 1)
        assert seen == expected

    def test_where_clauses_filter_on_other_indexes_keeping_the_order(self, store: Store) -> None:
        rows: dict[str, dict[str, str | None]] = {
            "a": {"due": "1", "owner": "r1", "tier": "A"},
            "b": {"due": "1", "owner": "r2", "tier": "B"},
            "c": {"due": "2", "owner": "r1", "tier": "C"},
            "d": {"due": "3", "owner": None, "tier": "A"},
            "e": {"due": "4", "owner": "r3", "tier": "B"},
        }
        self.commit(store, *[_write(i, indexes=ix) for i, ix in rows.items()])

        def ids(*where: tuple[IndexFilter, ...], **bounds: Any) -> list[str]:
            query = IndexQuery("thing", "due", where=where, **bounds)
            return [ident for _, ident in self.query(store, query)]

        assert ids((IndexFilter("owner", equals="r1"),)) == ["a", "c"]
        assert ids((IndexFilter("owner", one_of=("r1", "r3")),)) == ["a", "c", "e"]
        assert ids((IndexFilter("owner", one_of=()),)) == []
        assert ids((IndexFilter("tier", at_least="B", below="C"),)) == ["b", "e"]
        # a clause holds when any of its filters holds; every clause must hold
        either = (IndexFilter("owner", equals="r2"), IndexFilter("tier", equals="A"))
        assert ids(either) == ["a", "b", "d"]
        assert ids(either, (IndexFilter("owner", at_least=""),)) == ["a", "b"]
        assert ids(()) == []  # an empty clause holds for nobody
        assert ids((IndexFilter("missing", at_least=""),)) == []
        assert ids((IndexFilter("tier", equals="A"),), equals="3") == ["d"]
        assert ids((IndexFilter("tier", equals="A"),), after=("1", "a")) == ["d"]
        assert ids((IndexFilter("tier", one_of=("A", "B")),), at_least="1", below="4") == [
            "a", "b", "d",
        ]  # fmt: skip
        assert ids((IndexFilter("tier", one_of=("A", "B")),), limit=2) == ["a", "b"]

    def test_count_agrees_with_the_query_on_every_filter(self, store: Store) -> None:
        writes = [
            _write(f"id{i:02d}", indexes={"due": f"{i % 5}", "owner": f"r{i % 3}",
                                          "tag": "vip" if i % 4 == 0 else None})
            for i in range(30)
        ]  # fmt: skip
        self.commit(store, *writes)
        queries = [
            IndexQuery("thing", "due"),
            IndexQuery("thing", "due", equals="2"),
            IndexQuery("thing", "due", at_least="1", below="3"),
            IndexQuery("thing", "due", where=((IndexFilter("owner", equals="r1"),),)),
            IndexQuery("thing", "due", where=((IndexFilter("tag", equals="vip"),),)),
            IndexQuery(
                "thing",
                "due",
                at_least="1",
                where=(
                    (IndexFilter("owner", one_of=("r0", "r2")),),
                    (IndexFilter("tag", equals="vip"), IndexFilter("due", equals="1")),
                ),
            ),
            IndexQuery("thing", "none"),
        ]
        session = store.session()
        try:
            for query in queries:
                everything = session.query(attrs.evolve(query, limit=1000))
                assert session.count(query) == len(everything), query
                # the cursor and the limit do not change a count
                assert session.count(attrs.evolve(query, after=("2", "id99"), limit=1)) == len(
                    everything
                )
        finally:
            session.close()

    def test_keyset_paging_neither_repeats_nor_skips_under_concurrent_changes(
        self, store: Store
    ) -> None:
        """Between pages, rows are inserted and their filter and data change: no id comes twice,
        and every row that matched the filter the whole time comes exactly once, in order."""
        from hypothesis import given

        runs = iter(range(1_000_000))
        order_of = {f"r{n:02d}": f"{n * 7 % 5}" for n in range(60)}  # fixed per id, repeats

        @settings(
            max_examples=self.hypothesis_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(data=st.data())
        def check(data: st.DataObject) -> None:
            kind = f"paged{next(runs)}"
            flags = st.sampled_from(["on", "off", None])
            rows: dict[str, tuple[int, str | None]] = {}  # id -> (version, filter value)

            def write(ident: str, flag: str | None) -> RecordWrite:
                version = rows[ident][0] if ident in rows else 0
                rows[ident] = (version + 1, flag)
                indexes = {"order": order_of[ident], "flag": flag}
                return _write(ident, version, {"v": version}, kind=kind, indexes=indexes)

            initial = data.draw(st.dictionaries(st.sampled_from(sorted(order_of)[:30]), flags))
            if initial:
                self.commit(store, *[write(i, f) for i, f in initial.items()])
            stayed = {i for i, (_, flag) in rows.items() if flag == "on"}
            size = data.draw(st.integers(1, 4), label="page size")
            lower = data.draw(st.sampled_from([None, "1", "2"]), label="at_least")
            seen: list[tuple[str, str]] = []
            cursor: tuple[str, str] | None = None
            while True:
                query = IndexQuery(
                    kind, "order", at_least=lower, after=cursor, limit=size,
                    where=((IndexFilter("flag", equals="on"),),),
                )  # fmt: skip
                page = self.query(store, query)
                seen.extend(page)
                if len(page) < size:
                    break
                cursor = page[-1]
                changes = data.draw(
                    st.dictionaries(st.sampled_from(sorted(order_of)), flags, max_size=4),
                    label="changes between pages",
                )
                if changes:
                    self.commit(store, *[write(i, f) for i, f in changes.items()])
                stayed -= {i for i, f in changes.items() if f != "on"}
            ids = [ident for _, ident in seen]
            assert len(ids) == len(set(ids)), f"an id came twice: {ids}"
            assert seen == sorted(seen)
            expected = {i for i in stayed if lower is None or order_of[i] >= lower}
            assert expected <= set(ids), f"skipped {sorted(expected - set(ids))}"

        check()

    def test_updates_move_and_remove_index_entries(self, store: Store) -> None:
        self.commit(store, _write("a", indexes={"owner": "rep1", "pool": None}))
        self.commit(store, _write("a", 1, indexes={"owner": None, "pool": "east"}))
        assert self.query(store, IndexQuery("thing", "owner")) == []
        assert self.query(store, IndexQuery("thing", "pool")) == [("east", "a")]
        self.commit(store, _write("a", 2, indexes={}))
        assert self.query(store, IndexQuery("thing", "pool")) == []

    def test_what_an_update_keeps_changes_and_drops_reads_back_exactly(self, store: Store) -> None:
        # Adapters may touch only the rows an update changes; every row must still be right.
        self.commit(
            store,
            _write(
                "a",
                indexes={"zone": "east", "owner": "rep1", "tier": "B"},
                keys=frozenset({"k1", "k2"}),
                lookups=frozenset({"l1", "l2"}),
            ),
            _write("b", indexes={"zone": "east"}),
        )
        self.commit(
            store,
            _write(
                "a",
                1,
                indexes={"zone": "east", "owner": "rep2", "tier": None, "name": "x"},
                keys=frozenset({"k1", "k3"}),
                lookups=frozenset({"l1", "l3"}),
            ),
            _write("b", 1, indexes={"zone": "east"}, keys=frozenset({"k2"})),
        )
        assert self.query(store, IndexQuery("thing", "zone")) == [("east", "a"), ("east", "b")]
        assert self.query(store, IndexQuery("thing", "owner")) == [("rep2", "a")]
        assert self.query(store, IndexQuery("thing", "tier")) == []
        assert self.query(store, IndexQuery("thing", "name")) == [("x", "a")]
        session = store.session()
        try:
            found = {k: session.find_unique("thing", k) for k in ("k1", "k2", "k3")}
            assert found == {"k1": "a", "k2": "b", "k3": "a"}
            assert [session.find_by_key("thing", k) for k in ("l1", "l2", "l3")] == [
                ["a"], [], ["a"],
            ]  # fmt: skip
        finally:
            session.close()

    # -- audit chain and outbox -----------------------------------------------------------------
    def test_audit_entries_are_sealed_on_their_strands(self, store: Store) -> None:
        self.commit(store, _write("a"), audit=(_audit(1), _audit(2)))
        self.commit(store, _write("a", 1), audit=(_audit(3),))
        log = store.audit_log()
        assert [e.seq for e in log] == [1, 2, 3]
        assert [e.id for e in log] == ["audit-x-1", "audit-x-2", "audit-x-3"]
        strand = strand_of("thing:x", store.audit_strands)
        assert {e.strand for e in log} == {strand}
        assert [e.strand_seq for e in log] == [1, 2, 3]  # one aggregate, in order, one strand
        assert verify_audit_chain(log) is None
        assert log[1].after == {"n": 2, "名": "华为"}
        assert store.audit_log(after_seq=1, limit=1) == [log[1]]
        assert store.audit_strand(strand) == log
        assert store.audit_strand(strand, after=2) == [log[2]]
        tampered = [log[0], attrs.evolve(log[1], reason="edited"), log[2]]
        assert verify_audit_chain(tampered) == 1

    def test_a_commit_spanning_strands_seals_each_entry_on_its_own(self, store: Store) -> None:
        targets = [f"t{n}" for n in range(12)]
        self.commit(store, _write("a"), audit=tuple(_audit(1, t) for t in targets))
        self.commit(store, _write("a", 1), audit=tuple(_audit(2, t) for t in reversed(targets)))
        log = store.audit_log()
        assert [e.id for e in log[:12]] == [f"audit-{t}-1" for t in targets]  # commit order
        k = store.audit_strands
        for entry in log:
            assert entry.strand == strand_of(f"thing:{entry.target_id}", k)
        for strand in {e.strand for e in log}:
            mine = [e for e in log if e.strand == strand]
            assert sorted(e.strand_seq for e in mine) == list(range(1, len(mine) + 1))
            assert store.audit_strand(strand) == sorted(mine, key=lambda e: e.strand_seq)
        report = verify_store_audit(store)
        assert report.ok, report.faults
        assert report.entries == 24

    def test_digests_seal_every_strand_and_prove_inclusion(self, store: Store) -> None:
        for n in range(6):
            self.commit(store, _write(f"d{n}"), audit=(_audit(n, f"d{n}"), _audit(n, "x")))
        first = store.seal_digest()
        self.commit(store, _write("late"), audit=(_audit(9, "late"),))
        second = store.seal_digest()
        assert store.audit_digests() == [first, second]
        assert store.audit_digests(after=1) == [second]
        assert len(first.tips) == store.audit_strands
        assert second.prev_hash == first.hash
        report = verify_store_audit(store)
        assert report.ok, report.faults
        assert report.digests == 2
        for entry in store.audit_log():
            digest = first if entry.target_id != "late" else second
            later = store.audit_strand(entry.strand, after=entry.strand_seq)
            proof = prove_inclusion(entry, later, digest)
            assert verify_inclusion(entry, proof)
            assert not verify_inclusion(attrs.evolve(entry, reason="edited"), proof)

    def test_tampering_with_read_back_strands_is_named(self, store: Store) -> None:
        for n in range(4):
            self.commit(store, _write(f"r{n}"), audit=(_audit(n, "x"), _audit(n, f"r{n}")))
        digest = store.seal_digest()
        log = store.audit_log()
        strand = log[0].strand
        mine = [e for e in log if e.strand == strand]
        assert len(mine) >= 4
        others = [e for e in log if e.strand != strand]

        def fault(entries: list[AuditEntry], digests: list[Any] | None = None) -> Any:
            report = verify_audit(
                entries, [digest] if digests is None else digests, strands=store.audit_strands
            )
            return report.first_bad(strand)

        edited = fault([*others, mine[0], attrs.evolve(mine[1], actor_id="mallory"), *mine[2:]])
        assert (edited.strand_seq, edited.entry_id) == (2, mine[1].id)
        deleted = fault([*others, mine[0], *mine[2:]])
        assert (deleted.strand_seq, deleted.entry_id) == (2, mine[2].id)
        reordered = fault([*others, mine[1], mine[0], *mine[2:]])
        assert (reordered.strand_seq, reordered.entry_id) == (1, mine[1].id)
        truncated = fault([*others, *mine[:-1]])
        assert truncated.strand_seq == len(mine)
        assert "truncated" in truncated.problem
        dropped = fault(others)
        assert dropped.strand_seq == 1
        assert "dropped" in dropped.problem
        forged = attrs.evolve(digest, root="f" * 64)
        report = verify_audit(log, [forged], strands=store.audit_strands)
        assert [(f.digest, f.strand) for f in report.faults] == [(1, None)]
        assert verify_audit(log, [digest], strands=store.audit_strands).ok

    def test_personal_values_round_trip_and_erase_without_breaking_the_strands(
        self, store: Store
    ) -> None:
        written = [
            _personal(1, "c1"),
            _personal(2, "c1"),
            _personal(1, "c2", phone="+8613700000000"),
        ]
        reminder = attrs.evolve(_message("m1"), payload={"plan": f"call {_NAME} on {_PHONE}"})
        self.commit(store, _write("a"), audit=tuple(written[:2]), outbox=(reminder,))
        self.commit(store, _write("b"), audit=(written[2],), outbox=(_message("m2"),))
        digest = store.seal_digest()
        log = store.audit_log()
        reference = InMemoryStore(strands=store.audit_strands)
        self.commit(reference, _write("a"), audit=tuple(written[:2]), outbox=(reminder,))
        self.commit(reference, _write("b"), audit=(written[2],))
        assert [e.hash for e in log] == [e.hash for e in reference.audit_log()]
        for entry, sent in zip(log, written, strict=True):  # read back exactly as written
            assert (entry.before, entry.after, entry.personal) == (
                sent.before, sent.after, sent.personal,
            )  # fmt: skip
        report = store.erase_personal(Erasure([("contact", "c1")], values=[_PHONE, _NAME]))
        assert (report.audit_entries, report.outbox_messages) == (2, 1)
        erased = store.audit_log()
        assert [e.hash for e in erased] == [e.hash for e in log]
        for entry in erased[:2]:
            assert entry.personal is None
            assert entry.after is not None
            assert set(entry.after["phone"]) == {COMMITMENT_KEY}
            assert entry.after["title"] == "经理"  # not personal: kept
            text = repr((entry.before, entry.after))
            assert all(value not in text for value in (_PHONE, _NAME, _EMAIL))
        assert erased[2] == log[2]  # another person's entry is untouched
        verified = verify_store_audit(store)
        assert verified.ok, verified.faults
        messages = {m.id: m.payload for m in store.outbox_due(T0 + timedelta(days=1))}
        assert messages["m1"] == {"plan": f"call {ERASED} on {ERASED}"}
        assert messages["m2"] == _message("m2").payload
        again = store.erase_personal(Erasure([("contact", "c1")], values=[_PHONE, _NAME]))
        assert (again.audit_entries, again.outbox_messages) == (0, 0)
        # The commitment an erased entry keeps is still covered by its hash.
        first = erased[0]
        assert first.after is not None
        forged = attrs.evolve(first, after={**first.after, "phone": {COMMITMENT_KEY: "0" * 64}})
        fault = verify_audit([forged, *erased[1:]], [digest], strands=store.audit_strands)
        assert [f.entry_id for f in fault.faults] == [first.id]

    def test_outbox_delivery_bookkeeping(self, store: Store) -> None:
        self.commit(store, _write("a"), outbox=(_message("m1"), _message("m2", T0 + timedelta(1))))
        later = T0 + timedelta(days=2)
        assert [m.id for m in store.outbox_due(later)] == ["m1", "m2"]
        assert store.outbox_due(later)[0].payload == {"id": "m1", "nested": {"list": [1, 2, 3]}}
        store.outbox_mark_failed("m1", "smtp down", later + timedelta(minutes=5))
        assert [m.id for m in store.outbox_due(later)] == ["m2"]
        retry = store.outbox_due(later + timedelta(minutes=5))
        assert [m.id for m in retry] == ["m1", "m2"]
        assert (retry[0].attempts, retry[0].last_error) == (1, "smtp down")
        store.outbox_mark_delivered("m2", later)
        store.outbox_mark_delivered("m2", later)
        assert [m.id for m in store.outbox_due(later + timedelta(days=1))] == ["m1"]

    def test_outbox_rejects_unknown_and_duplicate_ids(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.outbox_mark_delivered("nope", T0)
        with pytest.raises(NotFound):
            store.outbox_mark_failed("nope", "x", T0)
        self.commit(store, _write("a"), outbox=(_message("m1"),))
        with pytest.raises(StorageError):
            self.commit(store, _write("b"), outbox=(_message("m1"),))
        assert self.version(store, "b") == 0
        assert [m.id for m in store.outbox_due(T0 + timedelta(days=1))] == ["m1"]

    # -- version checks -------------------------------------------------------------------------
    def test_a_checked_commit_lands_only_while_the_checked_record_is_unchanged(
        self, store: Store
    ) -> None:
        self.commit(store, _write("customer"), _write("other"))
        on_customer = [VersionCheck("thing", "customer", 1)]
        session = store.session()
        try:
            session.commit(
                Commit([_write("doc-1")], (_audit(1, "doc-1"),), (_message("m1"),), on_customer)
            )
        finally:
            session.close()
        assert (self.version(store, "doc-1"), self.version(store, "customer")) == (1, 1)
        self.commit(store, _write("customer", 1, {"name": "moved"}))
        with pytest.raises(ConcurrencyConflict) as caught:
            self.checked(
                store, on_customer, _write("doc-2"), _write("other", 1, {"name": "o2"}),
                audit=(_audit(2, "doc-2"),),
            )  # fmt: skip
        assert caught.value.retryable
        assert (caught.value.details["kind"], caught.value.details["id"]) == ("thing", "customer")
        assert (self.version(store, "doc-2"), self.version(store, "other")) == (0, 1)
        assert [e.id for e in store.audit_log()] == ["audit-doc-1-1"]
        assert [m.id for m in store.outbox_due(T0 + timedelta(days=1))] == ["m1"]
        # A record that does not exist (in this kind) is never at a version.
        for gone in (VersionCheck("thing", "ghost", 1), VersionCheck("lead", "customer", 2)):
            with pytest.raises(ConcurrencyConflict):
                self.checked(store, [gone], _write("doc-3"))
        assert self.version(store, "doc-3") == 0
        # Checks alone: they hold or they conflict, and write nothing either way.
        self.checked(store, [VersionCheck("thing", "customer", 2)])
        with pytest.raises(ConcurrencyConflict):
            self.checked(store, on_customer)
        assert self.version(store, "customer") == 2

    def test_a_record_both_written_and_checked_is_refused(self, store: Store) -> None:
        self.commit(store, _write("a"))
        for checks in (
            [VersionCheck("thing", "a", 1)],
            [VersionCheck("thing", "b", 1), VersionCheck("thing", "b", 2)],
        ):
            with pytest.raises(StorageError) as caught:
                self.checked(store, checks, _write("a", 1, {"name": "a2"}), _write("b"))
            assert not isinstance(caught.value, ConcurrencyConflict)
        assert (self.version(store, "a"), self.version(store, "b")) == (1, 0)
        with pytest.raises(ValueError, match="version must be >= 1"):
            VersionCheck("thing", "a", 0)

    def test_no_write_of_a_checked_record_commits_between_its_check_and_the_commit(
        self, store: Store
    ) -> None:
        """Movers change a record while filers commit documents checked against the version
        they read: in the order the audit log gives commits, every document was filed while
        the record was at the version it names (a filer that lost the race conflicts)."""
        self.commit(store, _write("gate", data={"n": 0}))
        errors: list[BaseException] = []

        def entry(ident: str, target: str, version: int) -> AuditEntry:
            return attrs.evolve(_audit(1, target), id=ident, after={"gate": version})

        def worker(n: int) -> None:
            for i in range(12):
                session = store.session()
                try:
                    gate = session.load("thing", "gate")
                    assert gate is not None
                    if n % 2:  # a mover: the gate's next version
                        write = _write("gate", gate.version, {"n": gate.version})
                        note = entry(f"move-{n}-{i}", "gate", gate.version + 1)
                        session.commit(Commit([write], (note,)))
                    else:  # a filer: a document under the gate as read
                        doc = f"doc-{n}-{i}"
                        note = entry(f"file-{n}-{i}", doc, gate.version)
                        check = VersionCheck("thing", "gate", gate.version)
                        session.commit(Commit([_write(doc)], (note,), (), [check]))
                except ConcurrencyConflict:
                    pass
                except BaseException as exc:  # surfaced below
                    errors.append(exc)
                finally:
                    session.close()

        _run_together(worker, self.threads)
        assert errors == []
        gate, filed = 1, 0
        for item in sorted(store.audit_log(limit=10_000), key=lambda e: e.seq):
            assert item.after is not None
            if item.target_id == "gate":
                gate += 1
                assert item.after["gate"] == gate
            else:
                assert item.after["gate"] == gate, f"{item.id} filed on a stale gate"
                filed += 1
        assert filed > 0
        assert gate == self.version(store, "gate")

    # -- concurrency ----------------------------------------------------------------------------
    def test_threads_hammering_one_record_lose_no_update(self, store: Store) -> None:
        self.commit(store, _write("counter", data={"n": 0}))
        successes: list[int] = []
        errors: list[BaseException] = []

        def worker() -> None:
            for _ in range(15):
                session = store.session()
                try:
                    record = session.load("thing", "counter")
                    assert record is not None
                    n = int(record.data["n"])
                    session.commit(Commit([_write("counter", record.version, {"n": n + 1})]))
                    successes.append(1)
                except ConcurrencyConflict:
                    pass
                except BaseException as exc:  # surfaced below
                    errors.append(exc)
                finally:
                    session.close()

        _run_together(lambda _n: worker(), self.threads)
        assert errors == []
        session = store.session()
        try:
            record = session.load("thing", "counter")
            assert record is not None
            assert record.version == len(successes) + 1
            assert record.data["n"] == len(successes)
        finally:
            session.close()

    def test_concurrent_creations_of_one_key_admit_exactly_one(self, store: Store) -> None:
        winners: list[str] = []
        losers: list[str] = []
        unexpected: list[BaseException] = []
        lock = threading.Lock()

        def worker(n: int) -> None:
            try:
                self.commit(store, _write(f"company-{n}", keys=frozenset({"uscc:SAME"})))
                with lock:
                    winners.append(f"company-{n}")
            except DuplicateKey:
                with lock:
                    losers.append(f"company-{n}")
            except BaseException as exc:
                unexpected.append(exc)

        _run_together(worker, self.threads)
        assert unexpected == []
        assert len(winners) == 1
        assert len(losers) == self.threads - 1
        session = store.session()
        try:
            assert session.find_unique("thing", "uscc:SAME") == winners[0]
        finally:
            session.close()

    def test_concurrent_writers_on_many_strands_never_deadlock_and_verify(
        self, store: Store
    ) -> None:
        """Commits whose entries span several strands, from many threads at once, in
        opposite orders: heads are taken in ascending strand order, so none deadlocks, and
        every strand verifies and every entry is proven by a digest sealed meanwhile."""

        def worker(n: int) -> None:
            targets = [f"c{(n * 7 + j) % 10}" for j in range(4)]
            if n % 2:
                targets.reverse()
            for i in range(5):
                audit = (*(_audit(i, t) for t in targets), _audit(i, f"w{n}"))
                self.commit(store, _write(f"w{n}-{i}"), audit=audit)
                if n == 0 and i == 2:
                    store.seal_digest()

        _run_together(worker, self.threads)
        log = store.audit_log(limit=10_000)
        assert len(log) == self.threads * 5 * 5
        assert verify_audit_chain(log) is None
        digest = store.seal_digest()
        report = verify_store_audit(store)
        assert report.ok, report.faults
        for entry in log:
            later = store.audit_strand(entry.strand, after=entry.strand_seq, limit=10_000)
            assert verify_inclusion(entry, prove_inclusion(entry, later, digest))

    # -- aggregates through the unit of work -----------------------------------------------------
    def test_every_aggregate_round_trips_through_the_store(self, store: Store) -> None:
        ids = SequentialIds()

        @settings(
            max_examples=self.hypothesis_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @_given_aggregate
        def check(aggregate: Any) -> None:
            fresh = attrs.evolve(aggregate, id=ids.new_id("agg"))
            if isinstance(fresh, Customer):  # names and USCCs are unique dedup keys
                fresh = attrs.evolve(fresh, name=f"{fresh.id} {fresh.name}", uscc=None)
            with UnitOfWork(store, ids) as uow:
                uow.repository(type(fresh)).add(fresh)
                uow.commit()
            with UnitOfWork(store, ids) as uow:  # records in the recycle bin included
                loaded = uow.repository(type(fresh)).find_any(fresh.id)
            assert loaded == attrs.evolve(fresh, version=1)

        check()

    def test_matches_the_in_memory_reference_on_random_histories(self) -> None:
        machine = _comparison_machine(self.make_store)
        machine.TestCase.settings = settings(
            max_examples=self.hypothesis_examples,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        machine.TestCase().runTest()


def _given_aggregate(fn: Callable[[Any], None]) -> Callable[[], None]:
    """Apply ``@given`` over every core aggregate type."""
    from hypothesis import given

    return given(aggregates().filter(lambda a: getattr(a, "uscc", None) is None))(fn)


def _run_together(worker: Callable[[int], None], count: int) -> None:
    """``worker(n)`` for n in ``range(count)``, each on its own thread; fails if one hangs."""
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung: deadlock?"


#: Characters a key may hold on every engine (PostgreSQL text has no NUL).
_KEY_CHARACTERS = st.characters(min_codepoint=1, exclude_categories=["Cs"])
_IDS = st.sampled_from(["a", "b", "c", "d", "e"])
_KEYS = st.frozensets(st.sampled_from(["k1", "k2", "k3"]), max_size=2)
_VALUES = st.none() | st.sampled_from(["p1", "p2", "p3", "东", "西"])


def _comparison_machine(make_store: Callable[[], Store]) -> type[RuleBasedStateMachine]:
    class StoreComparison(RuleBasedStateMachine):
        """Runs the same random commits on the adapter and the reference and compares."""

        def __init__(self) -> None:
            super().__init__()
            self.real = make_store()
            self.reference = InMemoryStore(strands=self.real.audit_strands)
            self.audits = 0

        def teardown(self) -> None:
            self.real.close()

        def _both(
            self, writes: list[RecordWrite], audit: bool, checks: list[VersionCheck] | None = None
        ) -> None:
            self.audits += 1
            entries = (_audit(self.audits),) if audit else ()
            outcomes = []
            for store in (self.real, self.reference):
                try:
                    StoreConformance.checked(store, checks or [], *writes, audit=entries)
                    outcomes.append("ok")
                except StorageError as exc:
                    outcomes.append(type(exc).__name__)
            assert outcomes[0] == outcomes[1], outcomes

        @rule(
            ident=_IDS,
            stale=st.booleans(),
            keys=_KEYS,
            pool=_VALUES,
            payload=st.integers(),
            audit=st.booleans(),
        )
        def write(
            self, ident: str, stale: bool, keys: frozenset[str], pool: str | None, payload: int,
            audit: bool,
        ) -> None:  # fmt: skip
            current = StoreConformance.version(self.reference, ident)
            expected = max(0, current - 1) if stale and current else current
            indexes = {"pool": pool, "even": "y" if payload % 2 == 0 else None}
            write = _write(
                ident, expected, {"p": payload}, indexes=indexes, keys=keys,
                lookups=frozenset(f"l{k}" for k in keys),
            )  # fmt: skip
            self._both([write], audit)

        @rule(first=_IDS, second=_IDS, keys=_KEYS)
        def write_two(self, first: str, second: str, keys: frozenset[str]) -> None:
            if first == second:
                return
            writes = [
                _write(i, StoreConformance.version(self.reference, i), {"two": i}, keys=k)
                for i, k in ((first, keys), (second, frozenset()))
            ]
            self._both(writes, audit=True)

        @rule(ident=_IDS, on=_IDS, stale=st.booleans(), audit=st.booleans())
        def checked_write(self, ident: str, on: str, stale: bool, audit: bool) -> None:
            """A write checked on a record (itself, a missing one, one at a stale version)."""
            version = StoreConformance.version(self.reference, on)
            check = VersionCheck("thing", on, max(1, version - 1 if stale else version))
            current = StoreConformance.version(self.reference, ident)
            self._both([_write(ident, current, {"checked": on})], audit, [check])

        @invariant()
        def same_state(self) -> None:
            for ident in ("a", "b", "c", "d", "e"):
                assert StoreConformance.version(self.real, ident) == StoreConformance.version(
                    self.reference, ident
                )
            for store_query in (
                IndexQuery("thing", "pool"),
                IndexQuery("thing", "pool", equals="p2"),
                IndexQuery("thing", "pool", at_least="p2", limit=2),
                IndexQuery("thing", "pool", where=((IndexFilter("even", equals="y"),),)),
            ):
                assert StoreConformance.query(self.real, store_query) == StoreConformance.query(
                    self.reference, store_query
                )
                assert StoreConformance.counted(self.real, store_query) == (
                    StoreConformance.counted(self.reference, store_query)
                )
            real_session, ref_session = self.real.session(), self.reference.session()
            try:
                for key in ("k1", "k2", "k3"):
                    assert real_session.find_unique("thing", key) == ref_session.find_unique(
                        "thing", key
                    )
                    assert real_session.find_by_key("thing", f"l{key}") == (
                        ref_session.find_by_key("thing", f"l{key}")
                    )
                lookups = ["lk3", "lk1", "lx", "lk2", "lk1"]
                assert real_session.find_by_keys("thing", lookups, limit=2) == (
                    ref_session.find_by_keys("thing", lookups, limit=2)
                )
                idents, fields = ["e", "a", "c", "zz"], ["p", "two", "missing"]
                assert real_session.load_fields("thing", idents, fields) == (
                    ref_session.load_fields("thing", idents, fields)
                )
                refs = [("thing", i) for i in ("e", "a", "c", "zz")] + [("other", "a")]
                real, ref = real_session.load_each(refs), ref_session.load_each(refs)
                assert {k: (r.version, r.data) for k, r in real.items()} == {
                    k: (r.version, r.data) for k, r in ref.items()
                }
            finally:
                real_session.close()
                ref_session.close()
            real_log = self.real.audit_log(limit=10_000)
            # The same hashes on every engine: canonical bytes do not depend on the store.
            assert [(e.id, e.strand, e.strand_seq, e.hash) for e in real_log] == [
                (e.id, e.strand, e.strand_seq, e.hash)
                for e in self.reference.audit_log(limit=10_000)
            ]
            assert verify_audit_chain(real_log) is None

    return StoreComparison
