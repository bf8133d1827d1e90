"""Audit strands and digests: any tampering is found at the entry, proofs hold, and the
canonical bytes are RFC 8785's."""

from __future__ import annotations

import enum
import math
from decimal import Decimal
from typing import Any

import attrs
import pytest
import rfc8785
from hypothesis import assume, given
from hypothesis import strategies as st

from leadtocash import AuditEntry, verify_audit_chain
from leadtocash.audit import (
    GENESIS_HASH,
    StrandTip,
    canonical_json,
    entry_hash,
    make_digest,
    merkle_path,
    prove_inclusion,
    seal_entries,
    strand_of,
    tips_of,
    verify_audit,
    verify_inclusion,
)
from leadtocash.audit import _path_root as path_root
from leadtocash.ports import Commit
from leadtocash.testing import InMemoryStore
from leadtocash.testing import strategies as strat

# One strand: every entry on strand 0, so list positions are strand positions.
chains = st.lists(strat.audit_entries(), min_size=1, max_size=8).map(
    lambda es: seal_entries(es, strands=1, heads={})[0]
)


@given(chains)
def test_an_untouched_strand_verifies(chain: list[AuditEntry]) -> None:
    assert verify_audit_chain(chain) is None
    assert [e.strand_seq for e in chain] == list(range(1, len(chain) + 1))
    assert chain[0].prev_hash == GENESIS_HASH


@given(chains, st.data())
def test_altering_any_field_breaks_the_strand_at_that_entry(
    chain: list[AuditEntry], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(chain) - 1))
    field = data.draw(st.sampled_from(["actor_id", "action", "target_id", "reason", "after"]))
    original = getattr(chain[index], field)
    replacement: object = {"tampered": True} if field == "after" else f"{original}-x"
    assume(replacement != original)
    tampered = [*chain]
    tampered[index] = attrs.evolve(chain[index], **{field: replacement})  # type: ignore[arg-type]
    assert verify_audit_chain(tampered) == index
    fault = verify_audit(tampered).first_bad(0)
    assert fault is not None
    assert (fault.strand_seq, fault.entry_id) == (index + 1, chain[index].id)


@given(chains.filter(lambda c: len(c) >= 2), st.data())
def test_deleting_an_entry_breaks_the_strand_there(
    chain: list[AuditEntry], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(chain) - 2))
    assert verify_audit_chain(chain[:index] + chain[index + 1 :]) == index


@given(chains.filter(lambda c: len(c) >= 2), st.data())
def test_swapping_two_entries_breaks_the_strand_at_the_first(
    chain: list[AuditEntry], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(chain) - 2))
    j = data.draw(st.integers(i + 1, len(chain) - 1))
    swapped = [*chain]
    swapped[i], swapped[j] = swapped[j], swapped[i]
    assert verify_audit_chain(swapped) == i


@given(chains)
def test_rehashing_a_forged_entry_still_breaks_the_next_link(chain: list[AuditEntry]) -> None:
    assume(len(chain) >= 2)
    forged = attrs.evolve(chain[0], reason="forged", hash="")
    forged = attrs.evolve(forged, hash=entry_hash(forged))
    assert verify_audit_chain([forged, *chain[1:]]) == 1


@given(chains)
def test_rewriting_a_whole_strand_is_caught_by_the_digest(chain: list[AuditEntry]) -> None:
    digest = make_digest(tips_of({0: (len(chain), chain[-1].hash)}, 1))
    forged_first = attrs.evolve(chain[0], reason="rewritten by an insider")
    rewritten, _ = seal_entries([forged_first, *chain[1:]], strands=1, heads={})
    assert verify_audit_chain(rewritten) is None  # the strand alone cannot tell
    fault = verify_audit(rewritten, [digest]).first_bad(0)
    assert fault is not None
    assert fault.strand_seq == len(chain) and "digest 1" in fault.problem


# -- interleavings ----------------------------------------------------------------------------
writers = st.lists(
    st.lists(
        st.lists(st.sampled_from([f"c{n}" for n in range(12)]), min_size=1, max_size=4),
        min_size=1,
        max_size=4,
    ),
    min_size=2,
    max_size=4,
)


@given(writers, st.data(), st.sampled_from([1, 2, 4, 16]))
def test_any_interleaving_of_writers_verifies_and_every_entry_is_proven(
    plans: list[list[list[str]]], data: st.DataObject, strands: int
) -> None:
    """Each writer commits its commits in order (each commit: entries for some customers);
    hypothesis picks how the writers interleave and when digests are sealed."""
    store = InMemoryStore(strands=strands)
    queues = [list(plan) for plan in plans]
    n = 0
    while any(queues):
        writer = data.draw(st.sampled_from([i for i, q in enumerate(queues) if q]))
        targets = queues[writer].pop(0)
        n += 1
        audit = tuple(strat_entry(f"e{n}-{j}", target, writer) for j, target in enumerate(targets))
        store.session().commit(Commit((), audit, ()))
        if data.draw(st.booleans()):
            store.seal_digest()
    digest = store.seal_digest()
    log = store.audit_log(limit=10_000)
    report = verify_audit(log, store.audit_digests(), strands=strands)
    assert report.ok, report.faults
    for target in {e.target_id for e in log}:  # one aggregate: one strand, in commit order
        mine = [e for e in log if e.target_id == target]
        assert len({e.strand for e in mine}) == 1
        assert [e.strand_seq for e in mine] == sorted(e.strand_seq for e in mine)
    for entry in log:
        later = store.audit_strand(entry.strand, after=entry.strand_seq, limit=10_000)
        assert verify_inclusion(entry, prove_inclusion(entry, later, digest))


def strat_entry(ident: str, target: str, writer: int) -> AuditEntry:
    from datetime import UTC, datetime

    return AuditEntry(
        id=ident, at=datetime(2026, 1, 5, tzinfo=UTC), actor_id=f"w{writer}",
        action="pool.claim", target_kind="customer", target_id=target,
        after={"owner_id": f"w{writer}"},
    )  # fmt: skip


# -- Merkle tree ------------------------------------------------------------------------------
@given(st.integers(1, 70), st.data())
def test_every_leaf_has_a_path_to_the_root(count: int, data: st.DataObject) -> None:
    tips = [StrandTip(s, s * 3, f"{s:064x}") for s in range(count)]
    digest = make_digest(tips)
    index = data.draw(st.integers(0, count - 1))
    assert path_root(tips[index].leaf(), merkle_path(tips, index)) == digest.root
    other = StrandTip(index, tips[index].seq + 1, tips[index].hash)
    assert path_root(other.leaf(), merkle_path(tips, index)) != digest.root


def test_strands_are_stable_and_spread() -> None:
    assert strand_of("customer:cust-000001", 16) == strand_of("customer:cust-000001", 16)
    assert strand_of("anything", 1) == 0
    hits = {strand_of(f"customer:cust-{n:06d}", 16) for n in range(200)}
    assert hits == set(range(16))
    with pytest.raises(ValueError, match="strand"):
        strand_of("x", 0)


# -- RFC 8785 ---------------------------------------------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_canonical_json_is_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "bad", [math.nan, math.inf, {"x": [-math.inf]}, {1: "non-string key"}, 2**60]
)
def test_canonical_json_rejects_what_rfc8785_cannot_represent(bad: object) -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_json(bad)


@given(strat.audit_entries())
def test_an_entrys_canonical_content_is_rfc8785_of_its_content(entry: AuditEntry) -> None:
    text, before, after = entry.canonical_content()
    assert text == rfc8785.dumps(entry.content())
    assert before == (None if entry.before is None else rfc8785.dumps(entry.before))
    assert after == (None if entry.after is None else rfc8785.dumps(entry.after))


class _Tier(enum.StrEnum):
    A = "A"
    ODD = 'quote " and\nnewline'


def test_string_enums_are_hashed_as_their_strings() -> None:
    """The converter leaves StrEnum members in snapshots; they take the fast path."""
    value = {"tier": _Tier.A, "odd": [_Tier.ODD]}
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value) == b'{"odd":["quote \\" and\\nnewline"],"tier":"A"}'


def test_decimals_are_hashed_as_strings() -> None:
    assert canonical_json({"amount": Decimal("12.50")}) == b'{"amount":"12.50"}'
    assert canonical_json({"b": 1.0, "a": "é"}) == b'{"a":"\xc3\xa9","b":1}'
