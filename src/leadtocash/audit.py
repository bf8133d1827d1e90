"""Audit entries and their tamper-evident hash chain.

Every state change writes one ``AuditEntry`` (who, what, target, before → after, reason, when)
in the same unit of work. The store assigns consecutive sequence numbers and chains entries:
``hash = SHA-256(prev_hash ‖ canonical JSON of the entry)``. ``verify_audit_chain`` finds the
first entry that was altered, removed or reordered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from leadtocash.model import utc

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "chain_entries",
    "chain_hashes",
    "entry_hash",
    "verify_audit_chain",
]

#: The ``prev_hash`` of the very first entry.
GENESIS_HASH = "0" * 64
# The canonical JSON encoder, built once (``json.dumps`` with options builds one per call).
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


@attrs.frozen
class AuditEntry:
    """One audited state change; ``seq``/``prev_hash``/``hash`` are set when it is stored."""

    id: str
    at: datetime = attrs.field(validator=utc)
    actor_id: str
    action: str
    target_kind: str
    target_id: str
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    reason: str | None = None
    override: bool = False
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""

    def canonical(self) -> str:
        """The canonical JSON text that the hash covers (everything except ``hash``)."""
        return self._canonical(self.seq, self.prev_hash)

    def _canonical(self, seq: int, prev_hash: str) -> str:
        body = {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor_id": self.actor_id,
            "action": self.action,
            "target_kind": self.target_kind,
            "target_id": self.target_id,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "override": self.override,
            "seq": seq,
            "prev_hash": prev_hash,
        }
        return _CANONICAL_JSON(body)

    def canonical_parts(self) -> tuple[str, str, str]:
        """The canonical text split around the values a store fills in when it seals.

        ``canonical() == head + prev_hash + middle + str(seq) + tail`` for any ``prev_hash``
        and ``seq``, so a store can compute the chain hash where the head of the chain is
        (for example in one SQL statement) without rendering JSON there.
        """
        text = self._canonical(0, "")
        # Keys are sorted, so only "reason" (a string), "target_id" and "target_kind" follow
        # the top-level "prev_hash" and "seq"; an unescaped quote cannot occur inside a JSON
        # string, so the last occurrence of each marker is the top-level one.
        prev_at = text.rindex('"prev_hash":"",') + len('"prev_hash":"')
        seq_at = text.rindex('"seq":0,') + len('"seq":')
        return text[:prev_at], text[prev_at:seq_at], text[seq_at + 1 :]


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the previous hash and the canonical entry."""
    return hashlib.sha256((entry.prev_hash + entry.canonical()).encode("utf-8")).hexdigest()


def chain_hashes(
    parts: Sequence[tuple[str, str, str]], *, last_seq: int, last_hash: str
) -> list[tuple[int, str, str]]:
    """``(seq, prev_hash, hash)`` for entries, given their ``canonical_parts``, sealed onto a
    chain whose head is (``last_seq``, ``last_hash``).

    The part a store runs while holding whatever serializes audit appends: string joins and
    SHA-256 only, the JSON having been rendered beforehand.
    """
    sealed: list[tuple[int, str, str]] = []
    seq, prev = last_seq, last_hash
    for head, middle, tail in parts:
        seq += 1
        text = prev + head + prev + middle + str(seq) + tail
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        sealed.append((seq, prev, digest))
        prev = digest
    return sealed


def chain_entries(
    entries: Sequence[AuditEntry], *, last_seq: int, last_hash: str
) -> list[AuditEntry]:
    """Seal ``entries`` onto a chain whose head is (``last_seq``, ``last_hash``).

    Stores call this (or :func:`chain_hashes`) inside their commit, while holding whatever
    serializes audit appends.
    """
    links = chain_hashes(
        [entry.canonical_parts() for entry in entries], last_seq=last_seq, last_hash=last_hash
    )
    return [
        attrs.evolve(entry, seq=seq, prev_hash=prev, hash=digest)
        for entry, (seq, prev, digest) in zip(entries, links, strict=True)
    ]


def verify_audit_chain(entries: Sequence[AuditEntry]) -> int | None:
    """Return the index of the first broken link in ``entries`` (ordered by seq), or None."""
    prev, expected_seq = GENESIS_HASH, 1
    for index, entry in enumerate(entries):
        if entry.seq != expected_seq or entry.prev_hash != prev or entry.hash != entry_hash(entry):
            return index
        prev, expected_seq = entry.hash, expected_seq + 1
    return None
