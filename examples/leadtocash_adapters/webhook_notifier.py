"""Webhook notifier: an HMAC-SHA256 signed JSON POST per notification (stdlib urllib only).

Wire format (see docs/adapters/notifications.md):

* body: canonical JSON (UTF-8, sorted keys, no spaces) of
  ``{"idempotency_key": ..., "payload": {...}, "topic": ...}``;
* ``X-Leadtocash-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>``;
* ``X-Leadtocash-Timestamp``: Unix seconds of the attempt (informational, not signed; the
  idempotency key is inside the signed body, so a replayed request is just a duplicate);
* ``Idempotency-Key`` and ``X-Leadtocash-Topic`` repeat body fields for routing.

Outcomes: 2xx is delivered. 408, 425, 429, 5xx, timeouts, refused or reset connections raise
:class:`DeliveryFailed` (retryable). Redirects (never followed) and every other 4xx raise
:class:`WebhookRejected`, a non-retryable ``DeliveryFailed`` with its own code: the outbox
relay still keeps the message and retries it at the capped backoff (a 401/404 is nearly
always a configuration error that an operator fixes), but monitoring can alert on the code.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from leadtocash import SystemClock
from leadtocash.ports import Clock, DeliveryFailed, Notification

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOPIC_HEADER",
    "WebhookNotifier",
    "WebhookRejected",
    "canonical_json",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Leadtocash-Signature"
TIMESTAMP_HEADER = "X-Leadtocash-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOPIC_HEADER = "X-Leadtocash-Topic"

_RETRYABLE_4XX = frozenset({408, 425, 429})
_MAX_ERROR_BODY = 200


class WebhookRejected(DeliveryFailed):
    """The receiver refused the request (4xx other than 408/425/429, or a redirect)."""

    code = "notify.webhook_rejected"
    retryable = False


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 JSON encoding signed and sent as the body (sorted keys, compact)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _key_bytes(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not key:
        raise ValueError("the webhook secret must not be empty")
    return key


def sign(secret: str | bytes, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(_key_bytes(secret), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """True when ``header`` is a valid signature of ``body`` (constant-time; for receivers)."""
    if not isinstance(header, str) or not isinstance(body, bytes | bytearray):
        return False
    expected = sign(secret, bytes(body)).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow redirects: a signed POST must not be replayed somewhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WebhookNotifier:
    """Sends each notification as a signed JSON POST to one URL."""

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        clock: Clock | None = None,
        timeout: float = 10.0,
        proxies: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        user_agent: str = "leadtocash-webhook/1",
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("the webhook URL must be an absolute http(s) URL")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.url = url
        self.timeout = timeout
        self._secret = _key_bytes(secret)
        self._clock: Clock = clock or SystemClock()
        self._host = parts.hostname
        self._headers = dict(headers or {})
        self._user_agent = user_agent
        # proxies=None: the environment's proxy settings; {} means connect directly.
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler(None if proxies is None else dict(proxies)),
            _NoRedirects(),
        )

    def __repr__(self) -> str:
        return f"WebhookNotifier(host={self._host!r}, timeout={self.timeout})"  # never the secret

    def request_for(self, notification: Notification) -> urllib.request.Request:
        """The signed request that ``send`` would make (useful to inspect or log)."""
        document = {
            "idempotency_key": notification.idempotency_key,
            "payload": dict(notification.payload),
            "topic": notification.topic,
        }
        try:
            body = canonical_json(document)
        except (TypeError, ValueError) as exc:
            raise DeliveryFailed(
                f"payload of {notification.topic} is not JSON-serialisable",
                code="notify.bad_payload",
                details={"topic": notification.topic},
            ) from exc
        headers = {
            **self._headers,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": self._user_agent,
            SIGNATURE_HEADER: sign(self._secret, body),
            TIMESTAMP_HEADER: str(int(self._clock.now().timestamp())),
            IDEMPOTENCY_HEADER: _header_safe(notification.idempotency_key),
            TOPIC_HEADER: _header_safe(notification.topic),
        }
        return urllib.request.Request(self.url, data=body, headers=headers, method="POST")

    def send(self, notification: Notification) -> None:
        """POST ``notification``; DeliveryFailed (or WebhookRejected) unless the answer is 2xx."""
        request = self.request_for(notification)
        details = {"host": self._host, "idempotency_key": notification.idempotency_key}
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc, details) from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise DeliveryFailed(
                f"webhook to {self._host} failed: {type(reason).__name__}: {reason}",
                details=details,
            ) from exc
        if not 200 <= status < 300:
            raise DeliveryFailed(f"webhook to {self._host} answered {status}", details=details)

    def _http_error(self, exc: urllib.error.HTTPError, details: dict[str, str]) -> DeliveryFailed:
        status = exc.code
        try:
            snippet = exc.read(_MAX_ERROR_BODY).decode("utf-8", "replace").strip()
        except (OSError, http.client.HTTPException):
            snippet = ""
        finally:
            exc.close()
        message = f"webhook to {self._host} answered {status}" + (f": {snippet}" if snippet else "")
        full = {**details, "status": status}
        if 300 <= status < 400 or (400 <= status < 500 and status not in _RETRYABLE_4XX):
            return WebhookRejected(message, details=full)
        return DeliveryFailed(message, details=full)


def _header_safe(value: str) -> str:
    """``value`` if it can travel in an HTTP header unchanged, else its sha256 hex digest."""
    if value.isascii() and value.isprintable() and len(value) <= 200:
        return value
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
