"""Outbox relay: delivers outbox messages through a Notifier, at least once, with backoff.

Domain events reach the outbox in the same commit as the change that caused them; this relay
moves them to the outside world. The guarantees:

* **At least once.** A message is marked delivered only after ``Notifier.send`` returned. A
  crash between the two re-sends it later, so receivers dedupe on the idempotency key, which
  is stored with the message and therefore identical on every attempt.
* **Nothing lost.** Any exception from the notifier (``DeliveryFailed`` or a bug) only records
  a failed attempt and schedules the next one; the message stays in the outbox.
* **Capped exponential backoff.** ``base * factor ** (attempts - 1)``, at most ``cap``, from
  the injected clock; optional jitter is derived from the message id (sha256), never from
  global randomness, so schedules are reproducible.
* **Order.** Each round sends due messages oldest first, so a healthy notifier sees them in
  commit order. A message waiting out its backoff can be overtaken by newer ones, and a
  re-sent duplicate can arrive after newer messages; receivers order by the payload's time.

Storage errors propagate (the relay cannot make progress without its store); the caller's
loop retries the round. Run one relay per store, or accept extra duplicates.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

import attrs

from leadtocash.errors import LeadToCashError
from leadtocash.ports.clock import Clock
from leadtocash.ports.notify import DeliveryFailed, Notification, Notifier
from leadtocash.ports.storage import OutboxMessage, Store

__all__ = ["Backoff", "FailedAttempt", "OutboxRelay", "RelayReport"]

_log = logging.getLogger(__name__)

#: ``outbox_due`` at this instant returns every undelivered message (used by ``pending``).
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)
_MAX_ERROR_CHARS = 500


def _positive(_inst: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if value <= timedelta(0):
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class Backoff:
    """Capped exponential backoff with optional deterministic jitter (a fraction in [0, 1))."""

    base: timedelta = attrs.field(default=timedelta(seconds=30), validator=_positive)
    factor: float = attrs.field(default=2.0, validator=attrs.validators.ge(1.0))
    cap: timedelta = attrs.field(default=timedelta(hours=1), validator=_positive)
    jitter: float = attrs.field(
        default=0.0, validator=[attrs.validators.ge(0.0), attrs.validators.lt(1.0)]
    )

    def __attrs_post_init__(self) -> None:
        if self.cap < self.base:
            raise ValueError("Backoff.cap must not be smaller than Backoff.base")

    def delay(self, attempt: int, message_id: str = "") -> timedelta:
        """Wait after failed attempt number ``attempt`` (1-based) of message ``message_id``."""
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        cap_s = self.cap.total_seconds()
        seconds = self.base.total_seconds()
        for _ in range(attempt - 1):  # multiply step by step: no float overflow for huge n
            seconds *= self.factor
            if seconds >= cap_s:
                seconds = cap_s
                break
        if self.jitter:
            digest = hashlib.sha256(f"{message_id}\x00{attempt}".encode()).digest()
            fraction = int.from_bytes(digest[:8], "big") / 2.0**64  # in [0, 1)
            seconds *= 1.0 - self.jitter * fraction
        return timedelta(seconds=seconds)


@attrs.frozen
class FailedAttempt:
    """One failed send: which message, its attempt number, the error text and the retry time."""

    message_id: str
    attempt: int
    error: str
    retry_at: datetime


@attrs.frozen
class RelayReport:
    """What one or more relay rounds did: delivered ids, failed attempts, messages left due."""

    delivered: tuple[str, ...] = ()
    failures: tuple[FailedAttempt, ...] = ()
    deferred: int = 0
    rounds: int = 1

    @property
    def failed(self) -> tuple[str, ...]:
        """Ids of the messages whose attempt failed, in attempt order."""
        return tuple(f.message_id for f in self.failures)

    @property
    def idle(self) -> bool:
        """True when nothing was attempted (no message was due)."""
        return not self.delivered and not self.failures

    def __add__(self, other: RelayReport) -> RelayReport:
        """Both reports combined (``deferred`` is the later report's)."""
        return RelayReport(
            delivered=self.delivered + other.delivered,
            failures=self.failures + other.failures,
            deferred=other.deferred,
            rounds=self.rounds + other.rounds,
        )


def _error_text(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, LeadToCashError) else f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


class OutboxRelay:
    """Delivers due outbox messages through a notifier; see the module docstring for guarantees.

    ``max_failures_per_round`` stops a round after that many failed sends (default 1): a
    notifier that is down is probed once per round instead of being hammered (and, for
    network notifiers, the round does not wait out ``batch_size`` timeouts). The messages not
    tried stay due, without an attempt charged, for the next round.
    """

    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        *,
        batch_size: int = 100,
        backoff: Backoff | None = None,
        max_failures_per_round: int | None = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if max_failures_per_round is not None and max_failures_per_round < 1:
            raise ValueError("max_failures_per_round must be at least 1 (or None)")
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.max_failures_per_round = max_failures_per_round

    def run_once(self) -> RelayReport:
        """One round: send every message due now (up to ``batch_size``), oldest first."""
        due = self.store.outbox_due(self.clock.now(), limit=self.batch_size)
        delivered: list[str] = []
        failures: list[FailedAttempt] = []
        for index, message in enumerate(due):
            failure = self._deliver(message)
            if failure is None:
                delivered.append(message.id)
                continue
            failures.append(failure)
            if self.max_failures_per_round is not None and (
                len(failures) >= self.max_failures_per_round
            ):
                report = RelayReport(tuple(delivered), tuple(failures), len(due) - index - 1)
                _log.info(
                    "outbox relay round: %d delivered, %d failed, %d deferred",
                    len(delivered), len(failures), report.deferred,
                )  # fmt: skip
                return report
        if due:
            _log.info("outbox relay round: %d delivered, %d failed", len(delivered), len(failures))
        return RelayReport(tuple(delivered), tuple(failures))

    def drain(self, max_rounds: int = 100) -> RelayReport:
        """Run rounds until one finds nothing due (or ``max_rounds``); for tests and demos.

        The clock is not advanced: messages waiting out a backoff stay in the outbox.
        """
        if max_rounds < 1:
            raise ValueError("max_rounds must be at least 1")
        total = RelayReport(rounds=0)
        for _ in range(max_rounds):
            report = self.run_once()
            total = total + report
            if report.idle:
                break
        return total

    def pending(self, limit: int = 1000) -> list[OutboxMessage]:
        """Undelivered messages, due or waiting out a backoff, oldest first (for monitoring)."""
        return self.store.outbox_due(_END_OF_TIME, limit=limit)

    def _deliver(self, message: OutboxMessage) -> FailedAttempt | None:
        notification = Notification(
            topic=message.topic,
            payload=message.payload,
            idempotency_key=message.idempotency_key,
        )
        try:
            self.notifier.send(notification)
        except Exception as exc:  # a broken notifier must never lose a message or stop the loop
            return self._record_failure(message, exc)
        self.store.outbox_mark_delivered(message.id, self.clock.now())
        return None

    def _record_failure(self, message: OutboxMessage, exc: Exception) -> FailedAttempt:
        attempt = message.attempts + 1
        error = _error_text(exc)
        retry_at = self.clock.now() + self.backoff.delay(attempt, message.id)
        self.store.outbox_mark_failed(message.id, error, retry_at)
        expected = isinstance(exc, DeliveryFailed) and exc.retryable
        _log.log(
            logging.WARNING if expected else logging.ERROR,
            "outbox message %s (%s) attempt %d failed, retry at %s: %s",
            message.id,
            message.topic,
            attempt,
            retry_at.isoformat(),
            error,
            exc_info=not isinstance(exc, DeliveryFailed),
        )
        return FailedAttempt(message.id, attempt, error, retry_at)
