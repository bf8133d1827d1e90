"""Notification port: delivers outbox messages (e-mail, webhook, IM) at least once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from leadtocash.errors import LeadToCashError

__all__ = ["DeliveryFailed", "Notification", "Notifier"]


@attrs.frozen
class Notification:
    """What a notifier sends: topic, JSON payload and the idempotency key receivers dedupe on."""

    topic: str
    payload: Mapping[str, Any]
    idempotency_key: str


class DeliveryFailed(LeadToCashError):
    """The notifier could not deliver; the relay keeps the message and retries with backoff."""

    code = "notify.delivery_failed"
    retryable = True


class Notifier(Protocol):
    """Sends one notification; raises DeliveryFailed when it did not (or may not have) arrive."""

    def send(self, notification: Notification) -> None:
        """Deliver ``notification``; receivers must tolerate repeats of one idempotency key."""
        ...
