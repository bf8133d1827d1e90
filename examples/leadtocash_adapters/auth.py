"""Reference authenticators: hashed API keys (stdlib scrypt) and JWT bearer tokens (pyjwt).

Both implement ``leadtocash.ports.Authenticator``: ``authenticate(credential)`` returns a
:class:`~leadtocash.Principal` or raises :class:`~leadtocash.AuthenticationFailed` — for any
input whatsoever, never another exception. ``details["reason"]`` names the cause for server
logs; do not echo it to callers. See docs/adapters/auth.md.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Mapping, MutableMapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
import jwt
from jwt.algorithms import get_default_algorithms

from leadtocash import (
    AuthenticationFailed,
    Principal,
    RepId,
    Role,
    SystemClock,
    TeamId,
    ZoneId,
    structure,
    unstructure,
)
from leadtocash.ports import Clock

__all__ = [
    "ApiKeyAuthenticator",
    "ApiKeyRecord",
    "JwtAuthenticator",
    "ScryptParams",
]


def _denied(reason: str, message: str = "authentication failed") -> AuthenticationFailed:
    return AuthenticationFailed(message, details={"reason": reason})


# -- API keys ---------------------------------------------------------------------------------


def _power_of_two(_inst: object, _attr: attrs.Attribute[int], value: int) -> None:
    if value < 2 or value & (value - 1):
        raise ValueError("scrypt n must be a power of two, at least 2")


@attrs.frozen
class ScryptParams:
    """scrypt cost parameters (stored with each key so they can be raised later)."""

    n: int = attrs.field(default=2**14, validator=_power_of_two)
    r: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    p: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    dklen: int = attrs.field(default=32, validator=attrs.validators.ge(16))

    def derive(self, secret: bytes, salt: bytes) -> bytes:
        """The scrypt digest of ``secret`` with ``salt``."""
        maxmem = 128 * self.n * self.r * self.p + 2 * 1024 * 1024
        return hashlib.scrypt(
            secret, salt=salt, n=self.n, r=self.r, p=self.p, dklen=self.dklen, maxmem=maxmem
        )


@attrs.frozen
class ApiKeyRecord:
    """What is stored for an API key: its id, salt, scrypt digest and parameters, owner."""

    key_id: str
    salt: bytes = attrs.field(repr=False)
    digest: bytes = attrs.field(repr=False)
    principal: Principal
    created_at: datetime
    params: ScryptParams = ScryptParams()
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for your own database (bytes as hex, times as ISO 8601)."""
        return {
            "key_id": self.key_id,
            "salt": self.salt.hex(),
            "digest": self.digest.hex(),
            "principal": unstructure(self.principal),
            "created_at": self.created_at.isoformat(),
            "params": attrs.asdict(self.params),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApiKeyRecord:
        """The record ``to_dict`` produced."""

        def when(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)

        return cls(
            key_id=data["key_id"],
            salt=bytes.fromhex(data["salt"]),
            digest=bytes.fromhex(data["digest"]),
            principal=structure(data["principal"], Principal),
            created_at=datetime.fromisoformat(data["created_at"]),
            params=ScryptParams(**data["params"]),
            expires_at=when(data.get("expires_at")),
            revoked_at=when(data.get("revoked_at")),
        )


_KEY_SHAPE = re.compile(r"([A-Za-z0-9_]{1,64})\.([A-Za-z0-9_-]{16,128})")
_PREFIX_SHAPE = re.compile(r"[A-Za-z0-9]{1,16}")


class ApiKeyAuthenticator:
    """API keys ``<key_id>.<secret>``: looked up by id, secret checked against a scrypt digest.

    ``records`` is any mutable mapping from key id to :class:`ApiKeyRecord` (a dict by
    default; back it with your database to persist keys). The plaintext is never stored.
    """

    def __init__(
        self,
        records: MutableMapping[str, ApiKeyRecord] | None = None,
        *,
        clock: Clock | None = None,
        params: ScryptParams | None = None,
        prefix: str = "ltc",
    ) -> None:
        if not _PREFIX_SHAPE.fullmatch(prefix):
            raise ValueError("prefix must be 1-16 ASCII letters or digits")
        self.records: MutableMapping[str, ApiKeyRecord] = {} if records is None else records
        self._clock: Clock = clock or SystemClock()
        self._params = params or ScryptParams()
        self._prefix = prefix
        # Digest for unknown ids, so an unknown id costs the same scrypt work as a wrong secret.
        self._dummy_salt = secrets.token_bytes(16)

    def issue_key(
        self, principal: Principal, *, expires_at: datetime | None = None
    ) -> tuple[str, ApiKeyRecord]:
        """A new key for ``principal``: the plaintext (show it once) and the stored record."""
        key_id = f"{self._prefix}_{secrets.token_hex(8)}"
        while key_id in self.records:  # 64 random bits: practically never loops
            key_id = f"{self._prefix}_{secrets.token_hex(8)}"
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        record = ApiKeyRecord(
            key_id=key_id,
            salt=salt,
            digest=self._params.derive(secret.encode("ascii"), salt),
            principal=principal,
            created_at=self._clock.now(),
            params=self._params,
            expires_at=expires_at,
        )
        self.records[key_id] = record
        return f"{key_id}.{secret}", record

    def revoke(self, key_id: str) -> None:
        """Revoke a key (idempotent); later use raises AuthenticationFailed."""
        record = self.records.get(key_id)
        if record is not None and record.revoked_at is None:
            self.records[key_id] = attrs.evolve(record, revoked_at=self._clock.now())

    def authenticate(self, credential: str) -> Principal:
        """The principal owning the API key ``credential``."""
        match = _KEY_SHAPE.fullmatch(credential) if isinstance(credential, str) else None
        if match is None:
            raise _denied("malformed", "malformed API key")
        key_id, secret = match.groups()
        record = self.records.get(key_id)
        if record is None:
            self._params.derive(secret.encode("ascii"), self._dummy_salt)
            raise _denied("invalid", "invalid API key")
        try:
            digest = record.params.derive(secret.encode("ascii"), record.salt)
        except (ValueError, MemoryError) as exc:  # a corrupt stored record
            raise _denied("invalid", "invalid API key") from exc
        if not hmac.compare_digest(digest, record.digest):
            raise _denied("invalid", "invalid API key")
        now = self._clock.now()
        if record.revoked_at is not None and record.revoked_at <= now:
            raise _denied("revoked", "API key revoked")
        if record.expires_at is not None and record.expires_at <= now:
            raise _denied("expired", "API key expired")
        return record.principal


# -- JWT --------------------------------------------------------------------------------------

_HMAC_MIN_KEY = {"HS256": 32, "HS384": 48, "HS512": 64}
_OPTIONAL_TEXT_CLAIMS = ("rep_id", "zone_id", "team_id", "locale")


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad_signature"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "algorithm_not_allowed"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return "missing_claim"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "wrong_audience"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "wrong_issuer"
    if isinstance(exc, jwt.DecodeError):
        return "malformed"
    return "invalid_claims"


def _numeric_date(payload: Mapping[str, Any], claim: str) -> float | None:
    value = payload.get(claim)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _denied("invalid_claims", f"claim {claim!r} must be a finite NumericDate")
    return float(value)


class JwtAuthenticator:
    """JWT bearer tokens: pinned algorithm, required exp/aud/iss/sub, roles claim → Role.

    Expiry (``exp``, ``nbf``, ``iat``) is checked against the injected clock with ``leeway``;
    pyjwt verifies the signature, audience, issuer and that the required claims are present.
    ``role_names`` maps claim values to roles (default: each Role's value); any other name
    in the roles claim rejects the token.
    """

    def __init__(
        self,
        key: str | bytes,
        *,
        issuer: str,
        audience: str,
        clock: Clock | None = None,
        algorithms: Sequence[str] = ("HS256",),
        leeway: timedelta = timedelta(0),
        roles_claim: str = "roles",
        role_names: Mapping[str, Role] | None = None,
        signing_key: str | bytes | None = None,
        max_token_length: int = 8192,
    ) -> None:
        if isinstance(algorithms, str) or len(algorithms) != 1:
            raise ValueError("pin exactly one algorithm, e.g. algorithms=['HS256']")
        (algorithm,) = algorithms
        if algorithm.lower() == "none" or algorithm not in get_default_algorithms():
            raise ValueError(f"unsupported JWT algorithm {algorithm!r}")
        minimum = _HMAC_MIN_KEY.get(algorithm)
        if minimum is not None:
            key_bytes = key.encode("utf-8") if isinstance(key, str) else key
            if len(key_bytes) < minimum:
                raise ValueError(f"{algorithm} needs a key of at least {minimum} bytes")
        if leeway < timedelta(0):
            raise ValueError("leeway must not be negative")
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        self._key = key
        self._signing_key = signing_key if signing_key is not None else key
        self._algorithm = algorithm
        self._issuer = issuer
        self._audience = audience
        self._clock: Clock = clock or SystemClock()
        self._leeway = leeway.total_seconds()
        self._roles_claim = roles_claim
        self._role_names: Mapping[str, Role] = (
            dict(role_names) if role_names is not None else {r.value: r for r in Role}
        )
        self._max_length = max_token_length

    def __repr__(self) -> str:
        return f"JwtAuthenticator(issuer={self._issuer!r}, algorithm={self._algorithm!r})"

    def issue_token(
        self, principal: Principal, *, ttl: timedelta = timedelta(minutes=15), **claims: Any
    ) -> str:
        """A signed token for ``principal`` valid for ``ttl`` (for tests, demos, dev setups)."""
        now = self._clock.now()
        role_of = {role: name for name, role in self._role_names.items()}
        unnamed = principal.roles - role_of.keys()
        if unnamed:
            raise ValueError(f"no claim name for roles {sorted(unnamed)}")
        payload: dict[str, Any] = {
            "sub": principal.user_id,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            self._roles_claim: sorted(role_of[r] for r in principal.roles),
            "locale": principal.locale,
        }
        for name in ("rep_id", "zone_id", "team_id"):
            value = getattr(principal, name)
            if value is not None:
                payload[name] = str(value)
        payload.update(claims)
        return jwt.encode(payload, self._signing_key, algorithm=self._algorithm)

    def authenticate(self, credential: str) -> Principal:
        """The principal named by the bearer token ``credential``."""
        if not isinstance(credential, str) or not credential:
            raise _denied("malformed", "malformed token")
        if len(credential) > self._max_length:
            raise _denied("malformed", "token too long")
        try:
            payload = jwt.decode(
                credential,
                self._key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": ["exp", "aud", "iss", "sub"],
                    "verify_signature": True,
                    "verify_aud": True,
                    "verify_iss": True,
                    "verify_sub": True,
                    "verify_jti": True,
                    # times are checked below against the injected clock, not the wall clock
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.PyJWTError as exc:
            raise _denied(_reason(exc), "invalid token") from exc
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
            raise _denied("malformed", "invalid token") from exc
        if not isinstance(payload, dict):
            raise _denied("malformed", "invalid token")
        self._check_times(payload)
        return self._principal(payload)

    def _check_times(self, payload: Mapping[str, Any]) -> None:
        now = self._clock.now().timestamp()
        exp = _numeric_date(payload, "exp")
        if exp is None or exp <= now - self._leeway:
            raise _denied("expired", "token expired")
        nbf = _numeric_date(payload, "nbf")
        if nbf is not None and nbf > now + self._leeway:
            raise _denied("not_yet_valid", "token not yet valid")
        iat = _numeric_date(payload, "iat")
        if iat is not None and iat > now + self._leeway:
            raise _denied("not_yet_valid", "token issued in the future")

    def _principal(self, payload: Mapping[str, Any]) -> Principal:
        subject = payload["sub"]
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 256:
            raise _denied("invalid_claims", "claim 'sub' must be a non-empty string")
        names = payload.get(self._roles_claim, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _denied("invalid_claims", f"claim {self._roles_claim!r} must be a list of names")
        unknown = sorted({n for n in names if n not in self._role_names})
        if unknown:
            raise AuthenticationFailed(
                "token names unknown roles", details={"reason": "unknown_role", "roles": unknown}
            )
        extra: dict[str, str] = {}
        for claim in _OPTIONAL_TEXT_CLAIMS:
            value = payload.get(claim)
            if value is None:
                continue
            if not isinstance(value, str) or not value or len(value) > 256:
                raise _denied("invalid_claims", f"claim {claim!r} must be a non-empty string")
            extra[claim] = value
        return Principal(
            user_id=subject,
            roles=frozenset(self._role_names[n] for n in names),
            rep_id=RepId(extra["rep_id"]) if "rep_id" in extra else None,
            zone_id=ZoneId(extra["zone_id"]) if "zone_id" in extra else None,
            team_id=TeamId(extra["team_id"]) if "team_id" in extra else None,
            locale=extra.get("locale", "zh-CN"),
        )
