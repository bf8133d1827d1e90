"""Reference authenticators: API keys (scrypt) and JWT (pyjwt); bad input is always refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadtocash import AuthenticationFailed, Principal, RepId, Role, ZoneId
from leadtocash.ports import Authenticator
from leadtocash.testing import FakeClock
from leadtocash_adapters.auth import (
    ApiKeyAuthenticator,
    ApiKeyRecord,
    JwtAuthenticator,
    ScryptParams,
)

FAST = ScryptParams(n=2**8, r=8, p=1)
SECRET = "s3cret-for-tests-only-0123456789abcdef"  # ≥ 32 bytes for HS256
ISSUER = "https://id.example.test"
AUDIENCE = "leadtocash-api"
ALICE = Principal(
    "alice", roles=frozenset({Role.REP, Role.TEAM_LEAD}), rep_id=RepId("rep-1"), locale="en"
)


def _fails(call: Callable[[], object], reason: str | None = None) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as info:
        call()
    assert info.value.code == "auth.authentication_failed"
    if reason is not None:
        assert info.value.details["reason"] == reason
    return info.value


# -- API keys ---------------------------------------------------------------------------------


@pytest.fixture
def keys(clock: FakeClock) -> ApiKeyAuthenticator:
    return ApiKeyAuthenticator(clock=clock, params=FAST)


def test_an_issued_key_authenticates_its_principal(keys: ApiKeyAuthenticator) -> None:
    authenticator: Authenticator = keys
    plaintext, record = keys.issue_key(ALICE)
    key_id, _, secret = plaintext.partition(".")
    assert key_id == record.key_id
    assert key_id.startswith("ltc_")
    assert len(secret) >= 40
    assert authenticator.authenticate(plaintext) == ALICE


def test_only_a_salted_digest_is_stored(keys: ApiKeyAuthenticator) -> None:
    first, a = keys.issue_key(ALICE)
    _second, b = keys.issue_key(ALICE)
    secret = first.partition(".")[2]
    assert a.salt != b.salt
    assert a.digest != b.digest
    stored = json.dumps(a.to_dict())
    assert secret not in stored
    assert secret not in repr(a)
    assert a.digest == hashlib.scrypt(
        secret.encode(), salt=a.salt, n=FAST.n, r=FAST.r, p=FAST.p, dklen=FAST.dklen
    )
    assert keys.records == {a.key_id: a, b.key_id: b}


def test_wrong_secret_and_unknown_id_look_the_same(
    keys: ApiKeyAuthenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    plaintext, record = keys.issue_key(ALICE)
    wrong = f"{record.key_id}.{'A' * 43}"
    unknown = f"ltc_0000000000000000.{plaintext.partition('.')[2]}"
    calls: list[bytes] = []
    real = hashlib.scrypt

    def spy(password: bytes, **kwargs: Any) -> bytes:
        calls.append(password)
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", spy)
    e1 = _fails(lambda: keys.authenticate(wrong), "invalid")
    e2 = _fails(lambda: keys.authenticate(unknown), "invalid")
    assert str(e1) == str(e2)
    assert len(calls) == 2  # an unknown id still pays for one scrypt


@pytest.mark.parametrize(
    "credential",
    [
        "",
        "no-dot",
        ".",
        "ltc_abc.",
        ".0123456789abcdefghij",
        "ltc_abc.short",
        "ltc_abc.0123456789abcdef.extra",
        "ltc abc.0123456789abcdefghij",
        "ltc_abc.0123456789abcdefghij\n",
        "ltc_abc.密钥密钥密钥密钥密钥密钥密钥密钥",
        "x" * 100_000,
        None,
        b"ltc_abc.0123456789abcdefghij",
        12345,
    ],
)
def test_malformed_keys_are_refused(keys: ApiKeyAuthenticator, credential: Any) -> None:
    keys.issue_key(ALICE)
    _fails(lambda: keys.authenticate(credential), "malformed")


def test_revoked_and_expired_keys_are_refused(keys: ApiKeyAuthenticator, clock: FakeClock) -> None:
    revoked, record = keys.issue_key(ALICE)
    keys.revoke(record.key_id)
    keys.revoke(record.key_id)
    keys.revoke("ltc_unknown")
    _fails(lambda: keys.authenticate(revoked), "revoked")

    expiring, _ = keys.issue_key(ALICE, expires_at=clock.now() + timedelta(days=1))
    assert keys.authenticate(expiring) == ALICE
    clock.advance(timedelta(days=1))
    _fails(lambda: keys.authenticate(expiring), "expired")


def test_records_survive_a_round_trip_through_json(keys: ApiKeyAuthenticator) -> None:
    plaintext, record = keys.issue_key(ALICE, expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    stored = json.loads(json.dumps(record.to_dict()))
    reloaded = ApiKeyRecord.from_dict(stored)
    assert reloaded == record
    fresh = ApiKeyAuthenticator({reloaded.key_id: reloaded}, clock=FakeClock())
    assert fresh.authenticate(plaintext) == ALICE


def test_keys_issued_with_old_parameters_still_verify_after_raising_the_cost(
    keys: ApiKeyAuthenticator,
) -> None:
    plaintext, _ = keys.issue_key(ALICE)
    stronger = ApiKeyAuthenticator(keys.records, clock=FakeClock(), params=ScryptParams())
    assert stronger.authenticate(plaintext) == ALICE
    new_plaintext, new_record = stronger.issue_key(ALICE)
    assert new_record.params == ScryptParams()
    assert stronger.authenticate(new_plaintext) == ALICE


def test_api_key_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="power of two"):
        ScryptParams(n=1000)
    with pytest.raises(ValueError, match="prefix"):
        ApiKeyAuthenticator(prefix="bad.prefix")


@given(st.text(max_size=200))
def test_no_text_crashes_the_api_key_authenticator(credential: str) -> None:
    authenticator = ApiKeyAuthenticator(clock=FakeClock(), params=FAST)
    with pytest.raises(AuthenticationFailed):
        authenticator.authenticate(credential)


# -- JWT --------------------------------------------------------------------------------------


@pytest.fixture
def tokens(clock: FakeClock) -> JwtAuthenticator:
    return JwtAuthenticator(SECRET, issuer=ISSUER, audience=AUDIENCE, clock=clock)


def _claims(clock: FakeClock, **overrides: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    claims: dict[str, Any] = {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "roles": ["rep"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not _DROP}


_DROP: Any = object()


def _token(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    """Sign ``claims`` by hand, so claim values pyjwt's encoder refuses can be tested too."""
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[algorithm]
    signing_input = f"{_b64({'alg': algorithm, 'typ': 'JWT'})}.{_b64(claims)}"
    signature = hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_valid_token_maps_claims_to_a_principal(
    tokens: JwtAuthenticator, clock: FakeClock
) -> None:
    token = _token(
        _claims(clock, roles=["rep", "team_lead"], rep_id="rep-1", zone_id="z-1", locale="en")
    )
    principal = tokens.authenticate(token)
    assert principal == Principal(
        "alice",
        roles=frozenset({Role.REP, Role.TEAM_LEAD}),
        rep_id=RepId("rep-1"),
        zone_id=ZoneId("z-1"),
        locale="en",
    )


def test_issue_token_round_trips(tokens: JwtAuthenticator) -> None:
    assert tokens.authenticate(tokens.issue_token(ALICE)) == ALICE


def test_audience_lists_are_accepted_when_they_contain_ours(
    tokens: JwtAuthenticator, clock: FakeClock
) -> None:
    token = _token(_claims(clock, aud=["other", AUDIENCE]))
    assert tokens.authenticate(token).user_id == "alice"


def test_expiry_uses_the_injected_clock_with_leeway() -> None:
    clock = FakeClock(datetime(2001, 9, 9, tzinfo=UTC))  # long expired by the wall clock
    strict = JwtAuthenticator(SECRET, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    lenient = JwtAuthenticator(
        SECRET, issuer=ISSUER, audience=AUDIENCE, clock=clock, leeway=timedelta(seconds=30)
    )
    token = _token(_claims(clock))
    assert strict.authenticate(token).user_id == "alice"
    clock.advance(timedelta(seconds=600))
    _fails(lambda: strict.authenticate(token), "expired")
    assert lenient.authenticate(token).user_id == "alice"
    clock.advance(timedelta(seconds=30))
    _fails(lambda: lenient.authenticate(token), "expired")


def test_tokens_from_the_future_are_refused(tokens: JwtAuthenticator, clock: FakeClock) -> None:
    now = int(clock.now().timestamp())
    _fails(lambda: tokens.authenticate(_token(_claims(clock, nbf=now + 60))), "not_yet_valid")
    _fails(lambda: tokens.authenticate(_token(_claims(clock, iat=now + 60))), "not_yet_valid")
    assert tokens.authenticate(_token(_claims(clock, nbf=now))).user_id == "alice"


def test_alg_none_is_refused(tokens: JwtAuthenticator, clock: FakeClock) -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(clock))}."
    _fails(lambda: tokens.authenticate(unsigned), "algorithm_not_allowed")
    also = jwt.encode(_claims(clock), None, algorithm="none")
    _fails(lambda: tokens.authenticate(also), "algorithm_not_allowed")


def test_other_algorithms_are_refused_even_with_the_right_key(
    tokens: JwtAuthenticator, clock: FakeClock
) -> None:
    key = SECRET * 2  # long enough for HS512
    _fails(lambda: tokens.authenticate(_token(_claims(clock), key, "HS512")))


def test_wrong_signature_and_tampering_are_refused(
    tokens: JwtAuthenticator, clock: FakeClock
) -> None:
    forged = _token(_claims(clock), key="another-secret-that-is-long-enough!!")
    _fails(lambda: tokens.authenticate(forged), "bad_signature")
    header, _payload, signature = _token(_claims(clock)).split(".")
    tampered = f"{header}.{_b64(_claims(clock, roles=['admin']))}.{signature}"
    _fails(lambda: tokens.authenticate(tampered), "bad_signature")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "someone-else"}, "wrong_audience"),
        ({"aud": ["a", "b"]}, "wrong_audience"),
        ({"aud": 5}, "wrong_audience"),
        ({"iss": "https://evil.example"}, "wrong_issuer"),
        ({"iss": ["x"]}, "wrong_issuer"),
        ({"exp": _DROP}, "missing_claim"),
        ({"aud": _DROP}, "missing_claim"),
        ({"iss": _DROP}, "missing_claim"),
        ({"sub": _DROP}, "missing_claim"),
        ({"exp": "9999999999"}, "invalid_claims"),
        ({"exp": True}, "invalid_claims"),
        ({"exp": float("inf")}, "invalid_claims"),
        ({"nbf": "soon"}, "invalid_claims"),
        ({"iat": [1]}, "invalid_claims"),
        ({"sub": 42}, "invalid_claims"),
        ({"sub": "  "}, "invalid_claims"),
        ({"roles": "admin"}, "invalid_claims"),
        ({"roles": [1]}, "invalid_claims"),
        ({"roles": ["rep", "superuser"]}, "unknown_role"),
        ({"roles": ["ADMIN"]}, "unknown_role"),
        ({"rep_id": 5}, "invalid_claims"),
        ({"locale": ""}, "invalid_claims"),
        ({"jti": 7}, "invalid_claims"),
    ],
)
def test_bad_claims_are_refused(
    tokens: JwtAuthenticator, clock: FakeClock, overrides: dict[str, Any], reason: str
) -> None:
    _fails(lambda: tokens.authenticate(_token(_claims(clock, **overrides))), reason)


@pytest.mark.parametrize(
    "credential",
    [
        "",
        "garbage",
        "a.b.c",
        "...",
        "Bearer x.y.z",
        f"{_b64({'alg': 'HS256'})}.bm90IGpzb24.c2ln",
        f"{_b64({'alg': 'HS256'})}.{base64.urlsafe_b64encode(b'[1,2]').decode()}.c2ln",
        "eyJ" + "A" * 10_000,
        None,
        b"a.b.c",
        3.14,
    ],
)
def test_garbage_is_refused(tokens: JwtAuthenticator, credential: Any) -> None:
    _fails(lambda: tokens.authenticate(credential))


def test_custom_role_names(clock: FakeClock) -> None:
    tokens = JwtAuthenticator(
        SECRET,
        issuer=ISSUER,
        audience=AUDIENCE,
        clock=clock,
        roles_claim="groups",
        role_names={"sales": Role.REP, "crm-admins": Role.ADMIN},
    )
    token = _token(_claims(clock, roles=_DROP, groups=["sales", "crm-admins"]))
    assert tokens.authenticate(token).roles == {Role.REP, Role.ADMIN}
    _fails(lambda: tokens.authenticate(_token(_claims(clock, groups=["rep"]))), "unknown_role")
    no_roles = tokens.authenticate(_token(_claims(clock, roles=_DROP)))
    assert no_roles.roles == frozenset()


def test_jwt_settings_are_validated() -> None:
    def make(**kwargs: Any) -> JwtAuthenticator:
        return JwtAuthenticator(
            kwargs.pop("key", SECRET), issuer=ISSUER, audience=AUDIENCE, **kwargs
        )

    with pytest.raises(ValueError, match="exactly one"):
        make(algorithms=["HS256", "RS256"])
    with pytest.raises(ValueError, match="exactly one"):
        make(algorithms="HS256")
    with pytest.raises(ValueError, match="unsupported"):
        make(algorithms=["none"])
    with pytest.raises(ValueError, match="at least 32 bytes"):
        make(key="short")
    with pytest.raises(ValueError, match="leeway"):
        make(leeway=timedelta(seconds=-1))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@given(st.text(max_size=300))
def test_no_text_crashes_the_jwt_authenticator(credential: str) -> None:
    tokens = JwtAuthenticator(SECRET, issuer=ISSUER, audience=AUDIENCE, clock=FakeClock())
    with pytest.raises(AuthenticationFailed):
        tokens.authenticate(credential)


@given(
    st.dictionaries(
        st.sampled_from(["sub", "iss", "aud", "exp", "nbf", "iat", "roles", "rep_id", "jti"]),
        _json,
    )
)
def test_signed_tokens_with_arbitrary_claims_never_crash(overrides: dict[str, Any]) -> None:
    clock = FakeClock()
    tokens = JwtAuthenticator(SECRET, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    token = _token(_claims(clock, **overrides))
    try:
        principal = tokens.authenticate(token)
    except AuthenticationFailed:
        return
    assert isinstance(principal, Principal)
    assert principal.user_id == overrides.get("sub", "alice")
