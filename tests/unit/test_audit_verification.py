"""Audit verification, example by example: each digest fault and each reason an inclusion
proof is refused is named; a fault says where it is; entries without personal data have no
erasable part."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from leadtocash import AuditEntry
from leadtocash.audit import (
    AuditDigest,
    AuditFault,
    StrandTip,
    erase_personal,
    make_digest,
    prove_inclusion,
    seal_entries,
    tips_of,
    verify_audit,
    verify_inclusion,
)

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _entry(n: int, target: str = "c1") -> AuditEntry:
    return AuditEntry(
        id=f"e{n}", seq=0, at=AT, actor_id="alice", action="customer.update",
        target_kind="customer", target_id=target, reason=f"change {n}",
        before=None, after={"n": n},
    )  # fmt: skip


def _strand(count: int) -> list[AuditEntry]:
    """``count`` entries of one aggregate on a one-strand log."""
    sealed, _ = seal_entries([_entry(n) for n in range(count)], strands=1, heads={})
    return sealed


def _digest_over(chain: list[AuditEntry]) -> AuditDigest:
    return make_digest(tips_of({0: (chain[-1].strand_seq, chain[-1].hash)}, 1))


def test_a_fault_says_where_it_is() -> None:
    assert str(AuditFault("edited", 3, 7, "e7")) == "strand 3 entry #7 (e7): edited"
    assert str(AuditFault("forged", digest=2)) == "digest 2: forged"
    assert str(AuditFault("odd")) == ": odd"


def test_an_entry_on_a_strand_the_log_does_not_have_is_a_fault() -> None:
    chain = _strand(2)
    stray = attrs.evolve(chain[1], strand=5)
    report = verify_audit([chain[0], stray], strands=2)
    assert not report.ok
    assert [(f.problem, f.entry_id, f.index) for f in report.faults] == [
        ("strand 5 out of range", "e1", 1)
    ]


def test_every_digest_fault_is_named_and_stops_the_digest_chain() -> None:
    chain = _strand(3)
    first = _digest_over(chain)
    second = make_digest(first.tips, previous=first)
    assert verify_audit(chain, [first, second]).ok

    def problems(*digests: AuditDigest) -> list[tuple[str, int | None]]:
        return [(f.problem, f.digest) for f in verify_audit(chain, digests).faults if f.digest]

    assert problems(second) == [("digest #2 found where #1 belongs", 2)]
    unchained = attrs.evolve(second, prev_hash="0" * 64)
    assert problems(first, unchained) == [
        ("previous digest hash does not match (digest chain broken)", 2)
    ]
    bad_root = attrs.evolve(first, root="f" * 64)
    assert problems(bad_root) == [("Merkle root does not match its tips (forged)", 1)]
    bad_hash = attrs.evolve(first, hash="e" * 64)
    assert problems(bad_hash) == [("digest hash does not match its contents (forged)", 1)]
    wide = make_digest([*first.tips, StrandTip(1, 0, first.tips[0].hash)])
    report = verify_audit(chain, [wide], strands=1)
    assert [(f.problem, f.digest) for f in report.faults if f.digest] == [
        ("digest covers 2 strands, the log has 1", 1)
    ]


def test_inclusion_needs_a_digest_covering_the_entry_and_the_strand_up_to_its_tip() -> None:
    chain = _strand(4)
    early = make_digest(tips_of({0: (2, chain[1].hash)}, 1))
    with pytest.raises(ValueError, match="does not cover"):
        prove_inclusion(chain[3], [], early)
    digest = _digest_over(chain)
    with pytest.raises(ValueError, match="up to the digest's tip"):
        prove_inclusion(chain[0], chain[2:], digest)  # entry #2 missing
    proof = prove_inclusion(chain[0], chain[1:], digest)
    assert verify_inclusion(chain[0], proof)


def test_an_inclusion_proof_is_refused_for_anything_it_does_not_prove() -> None:
    chain = _strand(3)
    digest = _digest_over(chain)
    proof = prove_inclusion(chain[0], chain[1:], digest)
    assert verify_inclusion(chain[0], proof)
    assert not verify_inclusion(chain[1], proof)  # another entry
    assert not verify_inclusion(attrs.evolve(chain[0], reason="edited"), proof)
    assert not verify_inclusion(chain[0], attrs.evolve(proof, tip=StrandTip(0, 9, "a" * 64)))
    other = make_digest(tips_of({0: (2, chain[1].hash)}, 1))
    assert not verify_inclusion(chain[0], attrs.evolve(proof, digest=other))
    forged_root = attrs.evolve(digest, root="b" * 64)
    assert not verify_inclusion(chain[0], attrs.evolve(proof, digest=forged_root))
    forged_hash = attrs.evolve(digest, hash="c" * 64)
    assert not verify_inclusion(chain[0], attrs.evolve(proof, digest=forged_hash))
    # Entries given whole in the chain must link on: a foreign or reordered one breaks it.
    whole = attrs.evolve(proof, chain=(chain[2], chain[1]))
    assert not verify_inclusion(chain[0], whole)


def test_an_entry_without_personal_data_has_nothing_to_erase() -> None:
    entry = _strand(1)[0]
    assert entry.personal_record() is None
    assert erase_personal(entry) is entry
