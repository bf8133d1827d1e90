"""The outbox relay: at-least-once delivery, capped backoff, stable idempotency keys, order."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from leadtocash import LeadToCash, Principal
from leadtocash.app.relay import Backoff, OutboxRelay, RelayReport
from leadtocash.ports import DeliveryFailed, Notification, OutboxMessage
from leadtocash.testing import FakeClock, InMemoryStore, RecordingNotifier


def _capture(crm: LeadToCash, rep: Principal, n: int) -> list[str]:
    return [
        crm.leads.capture(
            rep,
            {
                "channel": "web_form",
                "company_name": f"客户 {i} 有限公司",
                "email": f"buyer{i}@example.com",
            },
        ).id
        for i in range(n)
    ]


def _lead_ids(notifier: RecordingNotifier) -> list[str]:
    return [str(n.payload["lead_id"]) for n in notifier.sent]


def relay_pending(store: InMemoryStore) -> list[OutboxMessage]:
    """Every undelivered message, due or not."""
    return store.outbox_due(datetime.max.replace(tzinfo=UTC))


class ExplodingNotifier:
    """A notifier with a bug: raises something that is not DeliveryFailed."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, notification: Notification) -> None:
        self.calls += 1
        raise ZeroDivisionError("bug in notifier")


def test_delivers_captured_leads_in_commit_order_once(
    crm: LeadToCash, rep: Principal, store: InMemoryStore, clock: FakeClock
) -> None:
    lead_ids = _capture(crm, rep, 5)
    notifier = RecordingNotifier()
    relay = OutboxRelay(store, notifier, clock, batch_size=2)

    report = relay.drain(max_rounds=10)

    assert _lead_ids(notifier) == lead_ids
    assert notifier.topics() == ["lead.captured"] * 5
    assert len(report.delivered) == 5
    assert report.failures == ()
    assert relay.pending() == []
    assert relay.run_once().idle
    assert len(notifier.sent) == 5


def test_notification_carries_topic_payload_and_the_stored_idempotency_key(
    store: InMemoryStore, clock: FakeClock, crm: LeadToCash, rep: Principal
) -> None:
    _capture(crm, rep, 1)
    (message,) = store.outbox_due(clock.now())
    notifier = RecordingNotifier()
    OutboxRelay(store, notifier, clock).run_once()
    assert notifier.sent == [Notification(message.topic, message.payload, message.idempotency_key)]


def test_nothing_is_lost_while_the_notifier_is_down(
    crm: LeadToCash, rep: Principal, store: InMemoryStore, clock: FakeClock
) -> None:
    lead_ids = _capture(crm, rep, 4)
    notifier = RecordingNotifier(fail_next=1000)
    relay = OutboxRelay(store, notifier, clock, max_failures_per_round=None)

    for _ in range(6):  # six rounds over more than an hour of downtime
        report = relay.run_once()
        assert report.delivered == ()
        clock.advance(timedelta(minutes=15))

    pending = relay.pending()
    assert len(pending) == 4
    assert all(m.attempts >= 2 and m.last_error for m in pending)
    assert notifier.sent == []

    notifier.fail_next = 0  # the notifier comes back
    clock.advance(timedelta(hours=1))
    relay.drain()
    assert _lead_ids(notifier) == lead_ids
    assert relay.pending() == []


def test_backoff_schedule_doubles_from_30s_and_caps_at_one_hour(
    crm: LeadToCash, rep: Principal, store: InMemoryStore, clock: FakeClock
) -> None:
    _capture(crm, rep, 1)
    relay = OutboxRelay(store, RecordingNotifier(fail_next=10), clock)
    delays = []
    for attempt in range(1, 10):
        started = clock.now()
        report = relay.run_once()
        (failure,) = report.failures
        assert failure.attempt == attempt
        delays.append(failure.retry_at - started)
        # not due a moment before the retry time, due exactly at it
        clock.set(failure.retry_at - timedelta(microseconds=1))
        assert relay.run_once().idle
        clock.set(failure.retry_at)
    assert delays == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480, 960, 1920, 3600, 3600)]
    (message,) = relay.pending()
    assert message.attempts == 9
    assert message.next_attempt_at == clock.now()


def test_idempotency_key_is_stable_across_retries(
    crm: LeadToCash, rep: Principal, store: InMemoryStore, clock: FakeClock
) -> None:
    _capture(crm, rep, 2)
    keys = {m.id: m.idempotency_key for m in relay_pending(store)}

    class KeyRecorder(RecordingNotifier):
        def __init__(self) -> None:
            super().__init__(fail_next=4)
            self.keys_seen: list[str] = []

        def send(self, notification: Notification) -> None:
            self.keys_seen.append(notification.idempotency_key)
            super().send(notification)

    notifier = KeyRecorder()
    relay = OutboxRelay(store, notifier, clock, max_failures_per_round=None)
    for _ in range(5):
        relay.run_once()
        clock.advance(timedelta(hours=1))

    assert sorted(set(notifier.keys_seen)) == sorted(keys.values())
    assert len(notifier.keys_seen) == 6  # 4 failed attempts + 2 deliveries
    assert [n.idempotency_key for n in notifier.sent] == list(keys.values())


def test_a_round_stops_after_the_first_failure_by_default(
    crm: LeadToCash, rep: Principal, store: InMemoryStore, clock: FakeClock
) -> None:
    _capture(crm, rep, 3)
    notifier = RecordingNotifier(fail_next=1)
    relay = OutboxRelay(store, notifier, clock)

    first = relay.run_once()
    assert len(first.failures) == 1
    assert first.deferred == 2
    untouched = [m for m in relay.pending() if m.id != first.failed[0]]
    assert [m.attempts for m in untouched] == [0, 0]  # not tried, not charged

    second = relay.run_once()
    assert len(second.delivered) == 2
    clock.advance(timedelta(seconds=30))
    third = relay.run_once()
    assert third.delivered == first.failed
    assert relay.pending() == []


def test_after_an_outage_messages_failed_together_arrive_in_order(
    crm: LeadToCash, rep: Principal, store: InMemoryStore, clock: FakeClock
) -> None:
    lead_ids = _capture(crm, rep, 6)
    notifier = RecordingNotifier(fail_next=6)
    relay = OutboxRelay(store, notifier, clock, max_failures_per_round=None, batch_size=4)
    relay.drain()  # every message fails once at the same instant
    assert notifier.sent == []
    clock.advance(timedelta(seconds=30))
    relay.drain()
    assert _lead_ids(notifier) == lead_ids


def test_a_buggy_notifier_neither_loses_messages_nor_crashes_the_loop(
    crm: LeadToCash,
    rep: Principal,
    store: InMemoryStore,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _capture(crm, rep, 2)
    notifier = ExplodingNotifier()
    relay = OutboxRelay(store, notifier, clock, max_failures_per_round=None)
    with caplog.at_level(logging.WARNING, logger="leadtocash.app.relay"):
        report = relay.run_once()
    assert len(report.failures) == 2
    assert all(f.error == "ZeroDivisionError: bug in notifier" for f in report.failures)
    assert [m.last_error for m in relay.pending()] == ["ZeroDivisionError: bug in notifier"] * 2
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)

    good = RecordingNotifier()
    clock.advance(timedelta(seconds=30))
    OutboxRelay(store, good, clock).drain()
    assert len(good.sent) == 2


def test_delivery_failed_text_is_recorded_and_long_errors_are_truncated(
    crm: LeadToCash, rep: Principal, store: InMemoryStore, clock: FakeClock
) -> None:
    _capture(crm, rep, 1)

    class Noisy:
        def send(self, notification: Notification) -> None:
            raise DeliveryFailed("x" * 2000)

    (failure,) = OutboxRelay(store, Noisy(), clock).run_once().failures
    assert failure.error.startswith("[notify.delivery_failed] xxx")
    assert len(failure.error) == 500


def test_marked_delivered_only_after_send_returned(
    crm: LeadToCash, rep: Principal, store: InMemoryStore, clock: FakeClock
) -> None:
    _capture(crm, rep, 1)
    seen_undelivered = []

    class Inspecting:
        def send(self, notification: Notification) -> None:
            seen_undelivered.append(len(relay_pending(store)))

    OutboxRelay(store, Inspecting(), clock).run_once()
    assert seen_undelivered == [1]
    assert relay_pending(store) == []


def test_jitter_is_deterministic_bounded_and_per_message() -> None:
    backoff = Backoff(jitter=0.2)
    for attempt in range(1, 12):
        full = Backoff().delay(attempt)
        a = backoff.delay(attempt, "outbox-000001")
        assert a == backoff.delay(attempt, "outbox-000001")
        assert full * 0.8 <= a <= full
    spread = {backoff.delay(1, f"outbox-{i:06d}") for i in range(20)}
    assert len(spread) > 10


def test_backoff_handles_huge_attempt_numbers_and_rejects_bad_settings() -> None:
    assert Backoff().delay(10_000) == timedelta(hours=1)
    with pytest.raises(ValueError, match="attempt"):
        Backoff().delay(0)
    with pytest.raises(ValueError, match="positive"):
        Backoff(base=timedelta(0))
    with pytest.raises(ValueError, match="cap"):
        Backoff(base=timedelta(hours=2))
    with pytest.raises(ValueError, match="jitter"):
        Backoff(jitter=1.0)


def test_relay_rejects_bad_settings(store: InMemoryStore, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        OutboxRelay(store, RecordingNotifier(), clock, batch_size=0)
    with pytest.raises(ValueError, match="max_failures_per_round"):
        OutboxRelay(store, RecordingNotifier(), clock, max_failures_per_round=0)
    with pytest.raises(ValueError, match="max_rounds"):
        OutboxRelay(store, RecordingNotifier(), clock).drain(0)


def test_drain_is_bounded_and_reports_are_additive(
    crm: LeadToCash, rep: Principal, store: InMemoryStore, clock: FakeClock
) -> None:
    _capture(crm, rep, 5)
    relay = OutboxRelay(store, RecordingNotifier(), clock, batch_size=1)
    report = relay.drain(max_rounds=3)
    assert report.rounds == 3
    assert len(report.delivered) == 3
    assert len(relay.pending()) == 2
    combined = RelayReport(delivered=("a",)) + RelayReport(delivered=("b",), deferred=4)
    assert combined == RelayReport(delivered=("a", "b"), deferred=4, rounds=2)
