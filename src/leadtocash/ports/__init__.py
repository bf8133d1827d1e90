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
    link_hash,
    make_digest,
    seal_entries,
    strand_of,
    tips_of,
)
from leadtocash.ports.auth import Authenticator
from leadtocash.ports.clock import Clock, IdSource
from leadtocash.ports.notify import DeliveryFailed, Notification, Notifier
from leadtocash.ports.storage import (
    Commit,
    IndexFilter,
    IndexQuery,
    OutboxMessage,
    RecordWrite,
    Store,
    StoredRecord,
    StoreSession,
)

__all__ = [
    "GENESIS_HASH",
    "LEGACY_FORMAT",
    "STRAND_FORMAT",
    "Authenticator",
    "Clock",
    "Commit",
    "DeliveryFailed",
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
    "canonical_json",
    "entry_hash",
    "link_hash",
    "make_digest",
    "seal_entries",
    "strand_of",
    "tips_of",
]
