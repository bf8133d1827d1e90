"""SMTP notifier: renders each notification as a plain-text e-mail (stdlib smtplib only).

The idempotency key travels in ``X-Idempotency-Key`` and, made header-safe, in a
``Message-ID`` that is identical on every retry, so mail systems and scripts can drop
duplicates. One SMTP connection per notification; optional STARTTLS, implicit TLS and login.

Outcomes: accepted by the server for every recipient is delivered. Refused connections,
timeouts, disconnects and 4xx replies raise :class:`DeliveryFailed`; 5xx replies (permanent
per RFC 5321: unknown recipient, authentication failed, message refused) raise
:class:`SmtpRejected`, a non-retryable ``DeliveryFailed`` the relay still retries at the capped
backoff. If only some recipients are refused the notification counts as failed and is sent
again later (the accepted recipients get a duplicate with the same Message-ID).
"""

from __future__ import annotations

import hashlib
import json
import re
import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from leadtocash import SystemClock
from leadtocash.ports import Clock, DeliveryFailed, Notification

__all__ = ["IDEMPOTENCY_HEADER", "SmtpNotifier", "SmtpRejected", "message_id_for", "render_text"]

IDEMPOTENCY_HEADER = "X-Idempotency-Key"

_ID_SAFE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,128}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

Recipients = Sequence[str] | Callable[[Notification], Sequence[str]]


class SmtpRejected(DeliveryFailed):
    """The SMTP server refused permanently (a 5xx reply)."""

    code = "notify.smtp_rejected"
    retryable = False


def message_id_for(idempotency_key: str, domain: str) -> str:
    """A stable RFC 5322 Message-ID for ``idempotency_key`` (hashed when not header-safe)."""
    local = idempotency_key
    if (
        not _ID_SAFE.fullmatch(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
    ):
        local = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()
    return f"<{local}@{domain}>"


def _one_line(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def render_text(notification: Notification) -> str:
    """The plain-text body: topic, one ``key: value`` line per payload field, the key."""
    lines = [f"leadtocash notification: {_one_line(notification.topic)}", ""]
    for key in sorted(notification.payload, key=str):
        lines.append(f"{key}: {_value_text(notification.payload[key])}")
    lines += ["", f"Idempotency key: {notification.idempotency_key}", ""]
    return "\n".join(lines)


class SmtpNotifier:
    """Sends each notification as one plain-text e-mail through an SMTP server."""

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        recipients: Recipients,
        clock: Clock | None = None,
        timeout: float = 10.0,
        starttls: bool = False,
        implicit_tls: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        username: str | None = None,
        password: str | None = None,
        local_hostname: str | None = None,
        subject_prefix: str = "[leadtocash]",
        message_id_domain: str | None = None,
    ) -> None:
        if starttls and implicit_tls:
            raise ValueError("choose starttls or implicit_tls, not both")
        if (username is None) != (password is None):
            raise ValueError("username and password go together")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.host = host
        self.port = port
        self.sender = sender
        self._envelope_from = parseaddr(sender)[1] or sender
        self.timeout = timeout
        self._recipients = recipients
        self._clock: Clock = clock or SystemClock()
        self._starttls = starttls
        self._implicit_tls = implicit_tls
        self._ssl_context = ssl_context
        self._username = username
        self._password = password
        self._local_hostname = local_hostname
        self._subject_prefix = subject_prefix
        domain = message_id_domain or sender.rpartition("@")[2].strip(" >")
        self._domain = domain if re.fullmatch(r"[A-Za-z0-9.-]+", domain) else "leadtocash.invalid"

    def __repr__(self) -> str:
        return f"SmtpNotifier(host={self.host!r}, port={self.port})"  # never the password

    def recipients_for(self, notification: Notification) -> list[str]:
        """Where ``notification`` goes (a fixed list or the result of the routing callable)."""
        chosen = self._recipients(notification) if callable(self._recipients) else self._recipients
        return [str(r) for r in chosen]

    def render(self, notification: Notification) -> EmailMessage:
        """The e-mail that ``send`` would submit."""
        message = EmailMessage()
        message["Subject"] = _one_line(f"{self._subject_prefix} {notification.topic}")
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients_for(notification))
        message["Date"] = format_datetime(self._clock.now())
        message["Message-ID"] = message_id_for(notification.idempotency_key, self._domain)
        message[IDEMPOTENCY_HEADER] = _one_line(notification.idempotency_key)
        message["X-Leadtocash-Topic"] = _one_line(notification.topic)
        message.set_content(render_text(notification))
        return message

    def send(self, notification: Notification) -> None:
        """Submit the e-mail; DeliveryFailed (or SmtpRejected) unless every recipient took it."""
        details: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "idempotency_key": notification.idempotency_key,
        }
        try:
            message = self.render(notification)
            recipients = self.recipients_for(notification)
        except (TypeError, ValueError) as exc:
            raise DeliveryFailed(
                f"cannot render {notification.topic} as e-mail: {exc}",
                code="notify.bad_message",
                details=details,
            ) from exc
        if not recipients:
            raise DeliveryFailed(
                f"no recipients for {notification.topic}", code="notify.no_recipients"
            )
        try:
            smtp = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise _failure(exc, f"cannot reach {self.host}:{self.port}", details) from exc
        try:
            if self._starttls:
                smtp.starttls(context=self._ssl_context or ssl.create_default_context())
            if self._username is not None and self._password is not None:
                smtp.login(self._username, self._password)
            refused = smtp.send_message(message, from_addr=self._envelope_from, to_addrs=recipients)
        except (smtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise _failure(exc, f"{self.host}:{self.port} did not take the mail", details) from exc
        _quit_quietly(smtp)
        if refused:
            codes = {rcpt: code for rcpt, (code, _msg) in refused.items()}
            kind = SmtpRejected if all(c >= 500 for c in codes.values()) else DeliveryFailed
            raise kind(
                f"{self.host}:{self.port} refused {sorted(codes)}",
                details={**details, "refused": codes},
            )

    def _connect(self) -> smtplib.SMTP:
        if self._implicit_tls:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self._local_hostname,
                timeout=self.timeout,
                context=self._ssl_context or ssl.create_default_context(),
            )
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self._local_hostname, timeout=self.timeout
        )


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    """End the session after the server accepted the mail; a failing QUIT changes nothing."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _failure(exc: BaseException, what: str, details: Mapping[str, Any]) -> DeliveryFailed:
    code = _smtp_code(exc)
    text = f"{what}: {type(exc).__name__}: {exc}"
    full = {**details, "smtp_code": code}
    if code is not None and code >= 500:
        return SmtpRejected(text, details=full)
    return DeliveryFailed(text, details=full)


def _smtp_code(exc: BaseException) -> int | None:
    if isinstance(exc, smtplib.SMTPResponseException):
        return int(exc.smtp_code)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [int(code) for code, _msg in exc.recipients.values()]
        return min(codes) if codes else None
    return None
