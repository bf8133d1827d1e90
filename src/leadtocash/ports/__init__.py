"""Ports: the abstract edges of the library (storage, clock, ids, notifications, authentication).

Adapters implement these; the application layer depends only on them.
"""

from leadtocash.ports.auth import Authenticator
from leadtocash.ports.clock import Clock, IdSource
from leadtocash.ports.notify import DeliveryFailed, Notification, Notifier
from leadtocash.ports.storage import (
    Commit,
    IndexQuery,
    OutboxMessage,
    RecordWrite,
    Store,
    StoredRecord,
    StoreSession,
)

__all__ = [
    "Authenticator",
    "Clock",
    "Commit",
    "DeliveryFailed",
    "IdSource",
    "IndexQuery",
    "Notification",
    "Notifier",
    "OutboxMessage",
    "RecordWrite",
    "Store",
    "StoreSession",
    "StoredRecord",
]
