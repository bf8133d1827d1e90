"""The audit hash chain detects any altered, deleted or reordered entry, at that entry."""

from __future__ import annotations

import attrs
from hypothesis import assume, given
from hypothesis import strategies as st

from leadtocash import AuditEntry, verify_audit_chain
from leadtocash.audit import GENESIS_HASH, chain_entries
from leadtocash.testing import strategies as strat

chains = st.lists(strat.audit_entries(), min_size=1, max_size=8).map(
    lambda es: chain_entries(es, last_seq=0, last_hash=GENESIS_HASH)
)


@given(chains)
def test_an_untouched_chain_verifies(chain: list[AuditEntry]) -> None:
    assert verify_audit_chain(chain) is None
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))


@given(chains, st.data())
def test_altering_any_field_breaks_the_chain_at_that_entry(
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


@given(chains.filter(lambda c: len(c) >= 2), st.data())
def test_deleting_an_entry_breaks_the_chain_there(
    chain: list[AuditEntry], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(chain) - 2))
    assert verify_audit_chain(chain[:index] + chain[index + 1 :]) == index


@given(chains.filter(lambda c: len(c) >= 2), st.data())
def test_swapping_two_entries_breaks_the_chain_at_the_first(
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
    from leadtocash.audit import entry_hash

    forged = attrs.evolve(forged, hash=entry_hash(forged))
    assert verify_audit_chain([forged, *chain[1:]]) == 1


_MARKERS = st.sampled_from(['"prev_hash":"",', '"seq":0,', "prev_hash", "seq", '"', "\\"])


@given(
    strat.audit_entries(),
    st.integers(1, 10**12),
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    st.dictionaries(_MARKERS, _MARKERS | st.integers(0, 1), max_size=3),
    st.none() | _MARKERS,
)
def test_canonical_parts_rebuild_the_canonical_text_for_any_seq_and_prev_hash(
    entry: AuditEntry,
    seq: int,
    prev_hash: str,
    tricky: dict[str, object],
    reason: str | None,
) -> None:
    # Snapshots and reasons that contain the very markers the split looks for.
    entry = attrs.evolve(entry, before={**(entry.before or {}), **tricky}, reason=reason)
    head, middle, tail = entry.canonical_parts()
    sealed = attrs.evolve(entry, seq=seq, prev_hash=prev_hash)
    assert head + prev_hash + middle + str(seq) + tail == sealed.canonical()
