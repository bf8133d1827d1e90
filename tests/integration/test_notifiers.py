"""Reference notifiers against real local servers: aiosmtpd for SMTP, http.server for webhooks.

Everything listens on 127.0.0.1 only, every client call has a short timeout, and every server
is stopped when its test ends.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from leadtocash import LeadToCash, Principal
from leadtocash.app.relay import OutboxRelay
from leadtocash.ports import DeliveryFailed, Notification
from leadtocash.testing import FakeClock, InMemoryStore
from leadtocash_adapters.smtp_notifier import (
    SmtpNotifier,
    SmtpRejected,
    message_id_for,
    render_text,
)
from leadtocash_adapters.webhook_notifier import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    WebhookRejected,
    canonical_json,
    sign,
    verify_signature,
)

HOST = "127.0.0.1"
SECRET = b"webhook-shared-secret"
TIMEOUT = 0.4
NOTE = Notification(
    "lead.captured",
    {"lead_id": "lead-000001", "company_name": "华为技术有限公司", "score": 3, "tags": ["a"]},
    "outbox-000002",
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _capture(crm: LeadToCash, rep: Principal, n: int) -> list[str]:
    return [
        crm.leads.capture(
            rep,
            {"channel": "web_form", "company_name": f"客户{i}公司", "email": f"b{i}@example.com"},
        ).id
        for i in range(n)
    ]


# -- SMTP -------------------------------------------------------------------------------------


class Collector:
    """aiosmtpd handler: keeps accepted mails; can refuse recipients or answer DATA badly."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes]] = []
        self.refuse: set[str] = set()
        self.data_reply = "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_reply.startswith("250"):
            self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return self.data_reply

    def parsed(self, index: int = -1) -> EmailMessage:
        message = email.message_from_bytes(self.mails[index][2], policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


@pytest.fixture
def smtp_server() -> Iterator[tuple[Collector, int]]:
    collector = Collector()
    for attempt in range(3):  # the free port can be taken between probe and bind
        port = _free_port()
        controller = Controller(
            collector, hostname=HOST, port=port, server_hostname="localhost", ready_timeout=5.0
        )
        try:
            controller.start()
        except Exception:
            if attempt == 2:
                raise
            continue
        break
    try:
        yield collector, port
    finally:
        controller.stop()


def _smtp(port: int, clock: FakeClock | None = None, **kwargs: Any) -> SmtpNotifier:
    options: dict[str, Any] = {
        "sender": "CRM <crm@example.com>",
        "recipients": ["sales@example.com"],
        "clock": clock or FakeClock(),
        "timeout": TIMEOUT,
        "local_hostname": "localhost",
    }
    options.update(kwargs)
    return SmtpNotifier(HOST, port, **options)


def test_smtp_delivers_a_plain_text_mail_with_the_idempotency_key(
    smtp_server: tuple[Collector, int],
) -> None:
    collector, port = smtp_server
    notifier = _smtp(port)
    notifier.send(NOTE)

    (mail_from, rcpts, _content) = collector.mails[0]
    assert mail_from == "crm@example.com"
    assert rcpts == ["sales@example.com"]
    mail = collector.parsed()
    assert mail["Subject"] == "[leadtocash] lead.captured"
    assert mail["X-Idempotency-Key"] == "outbox-000002"
    assert mail["Message-ID"] == "<outbox-000002@example.com>"
    assert mail["X-Leadtocash-Topic"] == "lead.captured"
    assert mail.get_content_type() == "text/plain"
    body = mail.get_content()
    assert "company_name: 华为技术有限公司" in body
    assert 'tags: ["a"]' in body
    assert "score: 3" in body
    assert body.replace("\r\n", "\n") == render_text(NOTE)


def test_smtp_message_id_is_stable_across_retries(smtp_server: tuple[Collector, int]) -> None:
    collector, port = smtp_server
    notifier = _smtp(port)
    notifier.send(NOTE)
    notifier.send(NOTE)
    assert collector.parsed(0)["Message-ID"] == collector.parsed(1)["Message-ID"]


def test_smtp_routes_by_callable(smtp_server: tuple[Collector, int]) -> None:
    collector, port = smtp_server
    notifier = _smtp(port, recipients=lambda n: [f"{n.topic.split('.')[0]}@example.com"])
    notifier.send(NOTE)
    assert collector.mails[0][1] == ["lead@example.com"]


def test_smtp_temporary_and_permanent_refusals(smtp_server: tuple[Collector, int]) -> None:
    collector, port = smtp_server
    notifier = _smtp(port)

    collector.data_reply = "451 4.3.0 try again later"
    with pytest.raises(DeliveryFailed) as temporary:
        notifier.send(NOTE)
    assert not isinstance(temporary.value, SmtpRejected)
    assert temporary.value.retryable
    assert temporary.value.details["smtp_code"] == 451

    collector.data_reply = "554 5.6.0 message refused"
    with pytest.raises(SmtpRejected) as permanent:
        notifier.send(NOTE)
    assert permanent.value.code == "notify.smtp_rejected"
    assert not permanent.value.retryable
    assert collector.mails == []


def test_smtp_refused_recipients_fail_the_notification(
    smtp_server: tuple[Collector, int],
) -> None:
    collector, port = smtp_server
    collector.refuse = {"gone@example.com"}

    some = _smtp(port, recipients=["sales@example.com", "gone@example.com"])
    with pytest.raises(SmtpRejected) as partly:
        some.send(NOTE)
    assert partly.value.details["refused"] == {"gone@example.com": 550}
    assert len(collector.mails) == 1  # the good recipient got it (and will get a duplicate)

    none = _smtp(port, recipients=["gone@example.com"])
    with pytest.raises(SmtpRejected):
        none.send(NOTE)


def test_smtp_refused_connection_is_a_delivery_failure() -> None:
    notifier = _smtp(_free_port())
    with pytest.raises(DeliveryFailed) as info:
        notifier.send(NOTE)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_smtp_silent_server_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind((HOST, 0))
        silent.listen(1)  # the kernel accepts the connection; nobody ever says hello
        notifier = _smtp(silent.getsockname()[1])
        started = time.monotonic()
        with pytest.raises(DeliveryFailed) as info:
            notifier.send(NOTE)
        assert time.monotonic() - started < 3
    assert "timed out" in str(info.value)


def test_message_ids_are_header_safe() -> None:
    assert message_id_for("outbox-1", "example.com") == "<outbox-1@example.com>"
    weird = message_id_for("a b\r\nBcc: x@evil", "example.com")
    assert weird.startswith("<") and weird.endswith("@example.com>")
    assert " " not in weird and "\n" not in weird
    assert weird == message_id_for("a b\r\nBcc: x@evil", "example.com")


def test_smtp_relay_delivers_captured_leads(
    smtp_server: tuple[Collector, int],
    crm: LeadToCash,
    rep: Principal,
    store: InMemoryStore,
    clock: FakeClock,
) -> None:
    collector, port = smtp_server
    _capture(crm, rep, 2)
    expected = [m.idempotency_key for m in store.outbox_due(clock.now())]
    report = OutboxRelay(store, _smtp(port, clock), clock).drain(max_rounds=5)
    assert len(report.delivered) == 2
    assert [collector.parsed(i)["X-Idempotency-Key"] for i in range(2)] == expected


# -- webhook ----------------------------------------------------------------------------------


class Receiver:
    """The state behind the test HTTP server: what arrived and how to answer next."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests: list[tuple[dict[str, str], bytes, str]] = []
        self.script: deque[str] = deque()
        self.default = "200"
        self.release = threading.Event()
        self._lock = threading.Lock()

    def record(self, headers: dict[str, str], body: bytes) -> str:
        with self._lock:
            mode = self.script.popleft() if self.script else self.default
            self.requests.append((headers, body, mode))
            return mode

    def keys_answered_ok(self) -> list[str]:
        with self._lock:
            return [json.loads(b)["idempotency_key"] for _h, b, m in self.requests if m == "200"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that timed out leave broken pipes behind; that is expected here."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        receiver = self.server.receiver
        mode = receiver.record(dict(self.headers.items()), body)
        if mode == "sleep":
            receiver.release.wait(5.0)  # past the client's timeout; released at teardown
            return
        self.send_response(int(mode))
        if mode.startswith("3"):
            self.send_header("Location", receiver.url + "elsewhere")
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"done")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = _Server((HOST, 0), _Handler)
    server.receiver = Receiver(f"http://{HOST}:{server.server_address[1]}/hook/")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server.receiver
    finally:
        server.receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _webhook(url: str, clock: FakeClock | None = None) -> WebhookNotifier:
    return WebhookNotifier(url, SECRET, clock=clock or FakeClock(), timeout=TIMEOUT, proxies={})


def test_webhook_posts_signed_canonical_json(receiver: Receiver) -> None:
    clock = FakeClock()
    _webhook(receiver.url, clock).send(NOTE)

    ((headers, body, _mode),) = receiver.requests
    assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER])
    assert headers[SIGNATURE_HEADER] == sign(SECRET, body)
    assert json.loads(body) == {
        "idempotency_key": "outbox-000002",
        "payload": dict(NOTE.payload),
        "topic": "lead.captured",
    }
    assert body == canonical_json(json.loads(body))
    assert "华为" in body.decode("utf-8")
    assert headers[IDEMPOTENCY_HEADER] == "outbox-000002"
    assert headers[TIMESTAMP_HEADER] == str(int(clock.now().timestamp()))
    assert headers["Content-Type"] == "application/json; charset=utf-8"


def test_signature_verification_rejects_forgeries() -> None:
    body = canonical_json({"topic": "x", "payload": {}, "idempotency_key": "k"})
    good = sign(SECRET, body)
    assert verify_signature(SECRET, body, good)
    assert verify_signature(SECRET.decode(), body, f"  {good} ")
    assert not verify_signature(b"another secret", body, good)
    assert not verify_signature(SECRET, body + b" ", good)
    assert not verify_signature(SECRET, body, good.replace("sha256=", "sha1="))
    assert not verify_signature(SECRET, body, good[:-1])
    assert not verify_signature(SECRET, body, None)
    assert not verify_signature(SECRET, body, "")
    assert not verify_signature(SECRET, body, "sha256=ü")
    assert not verify_signature(SECRET, "text", good)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", ["500", "502", "503", "408", "429"])
def test_webhook_retryable_answers_raise_delivery_failed(receiver: Receiver, status: str) -> None:
    receiver.default = status
    with pytest.raises(DeliveryFailed) as info:
        _webhook(receiver.url).send(NOTE)
    assert not isinstance(info.value, WebhookRejected)
    assert info.value.retryable
    assert info.value.details["status"] == int(status)


@pytest.mark.parametrize("status", ["400", "401", "404", "410", "302", "307"])
def test_webhook_refusals_and_redirects_raise_webhook_rejected(
    receiver: Receiver, status: str
) -> None:
    receiver.default = status
    with pytest.raises(WebhookRejected) as info:
        _webhook(receiver.url).send(NOTE)
    assert info.value.code == "notify.webhook_rejected"
    assert not info.value.retryable
    assert len(receiver.requests) == 1  # redirects are not followed


def test_webhook_timeout_is_a_delivery_failure(receiver: Receiver) -> None:
    receiver.default = "sleep"
    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as info:
        _webhook(receiver.url).send(NOTE)
    assert time.monotonic() - started < 3
    assert "timed out" in str(info.value).lower()
    assert len(receiver.requests) == 1


def test_webhook_refused_connection_is_a_delivery_failure() -> None:
    with pytest.raises(DeliveryFailed) as info:
        _webhook(f"http://{HOST}:{_free_port()}/hook").send(NOTE)
    assert "ConnectionRefusedError" in str(info.value)


def test_webhook_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookNotifier("file:///etc/passwd", SECRET)
    with pytest.raises(ValueError, match="http"):
        WebhookNotifier("/relative", SECRET)
    with pytest.raises(ValueError, match="secret"):
        WebhookNotifier("http://127.0.0.1/", b"")
    notifier = WebhookNotifier("http://127.0.0.1/", SECRET)
    assert SECRET.decode() not in repr(notifier)


def test_relay_delivers_every_lead_through_a_flaky_webhook(
    receiver: Receiver, crm: LeadToCash, rep: Principal, store: InMemoryStore, clock: FakeClock
) -> None:
    _capture(crm, rep, 3)
    keys = [m.idempotency_key for m in store.outbox_due(clock.now())]
    receiver.script.extend(["500", "sleep", "503"])
    relay = OutboxRelay(store, _webhook(receiver.url, clock), clock)

    outage = relay.drain(max_rounds=10)  # each round probes once, fails, and stops
    assert outage.delivered == ()
    assert len(outage.failures) == 3
    assert [m.attempts for m in relay.pending()] == [1, 1, 1]
    assert receiver.keys_answered_ok() == []

    clock.advance(timedelta(seconds=29))
    assert relay.run_once().idle  # still backing off
    clock.advance(timedelta(seconds=1))
    recovered = relay.drain(max_rounds=10)

    assert relay.pending() == []
    assert len(recovered.delivered) == 3
    assert receiver.keys_answered_ok() == keys  # each exactly once, in commit order
    seen = [json.loads(body)["idempotency_key"] for _h, body, _m in receiver.requests]
    assert all(seen.count(key) >= 1 for key in keys)  # possibly more than once, never zero
    assert len(seen) == 6
    assert all(verify_signature(SECRET, b, h[SIGNATURE_HEADER]) for h, b, _m in receiver.requests)
