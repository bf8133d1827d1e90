"""Ports: the abstract edges of the library (storage, clock, ids, notifications, authentication).

Adapters implement these; the application layer depends only on them.
"""

from leadtocash.audit import (
    GENESIS_HASH,
    LEGACY_FORMAT,
    STRAND_FORMAT,
    StrandTip,
    canonical_json,
    entry_hash,
    erase_personal,
    link_hash,
    make_digest,
    restore_personal,
    seal_entries,
    strand_of,
    tips_of,
)
from leadtocash.ports.auth import Authenticator
from leadtocash.ports.clock import Clock, IdSource
from leadtocash.ports.notify import DeliveryFailed, Notification, Notifier
from leadtocash.ports.storage import (
    ERASED,
    Commit,
    Erasure,
    ErasureReport,
    IndexFilter,
    IndexQuery,
    OutboxMessage,
    RecordWrite,
    Store,
    StoredRecord,
    StoreSession,
    VersionCheck,
    check_failed,
    commit_checks,
    scrub_payload,
)

__all__ = [
    "ERASED",
    "GENESIS_HASH",
    "LEGACY_FORMAT",
    "STRAND_FORMAT",
    "Authenticator",
    "Clock",
    "Commit",
    "DeliveryFailed",
    "Erasure",
    "ErasureReport",
    "IdSource",
    "IndexFilter",
    "IndexQuery",
    "Notification",
    "Notifier",
    "OutboxMessage",
    "RecordWrite",
    "Store",
    "StoreSession",
    "StoredRecord",
    "StrandTip",
    "VersionCheck",
    "canonical_json",
    "check_failed",
    "commit_checks",
    "entry_hash",
    "erase_personal",
    "link_hash",
    "make_digest",
    "restore_personal",
    "scrub_payload",
    "seal_entries",
    "strand_of",
    "tips_of",
]
