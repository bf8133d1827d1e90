"""Verify a store's whole audit log: every strand (read in parallel) against the digests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from leadtocash.audit import AuditDigest, AuditEntry, AuditReport, verify_audit
from leadtocash.ports.storage import Store

__all__ = ["all_digests", "read_strand", "verify_store_audit"]


def all_digests(store: Store, page: int) -> list[AuditDigest]:
    """Every digest of the store, oldest first, read ``page`` at a time."""
    digests: list[AuditDigest] = []
    while batch := store.audit_digests(after=len(digests), limit=page):
        digests.extend(batch)
    return digests


def read_strand(store: Store, strand: int, page: int) -> list[AuditEntry]:
    """Every entry of one strand, in strand order, read ``page`` at a time."""
    entries: list[AuditEntry] = []
    after = 0
    while batch := store.audit_strand(strand, after=after, limit=page):
        entries.extend(batch)
        after = batch[-1].strand_seq
        if len(batch) < page:
            break
    return entries


def verify_store_audit(store: Store, *, workers: int = 4, page: int = 10_000) -> AuditReport:
    """Read the digests, then every strand (``workers`` at a time, so a networked store reads
    them in parallel), and verify them all (:func:`leadtocash.audit.verify_audit`).

    Digests are read first: every tip they record was committed before the strands are read,
    so entries sealed meanwhile only lengthen the strands past the tips.
    """
    digests = all_digests(store, page)
    strands = store.audit_strands
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        per_strand = list(pool.map(lambda s: read_strand(store, s, page), range(strands)))
    entries = [entry for strand in per_strand for entry in strand]
    return verify_audit(entries, digests, strands=strands)
