"""Embedding leadtocash in a web app: FastAPI over the SQLite store, with API-key auth.

What a developer embedding the library copies first. Run it (``web`` extra)::

    pip install 'leadtocash[web,cli]' uvicorn
    leadtocash migrate sqlite:///crm.db
    LEADTOCASH_URL=sqlite:///crm.db uvicorn --factory fastapi_app:app_from_env  # in examples/

Every request carries ``Authorization: Bearer <api key>`` (keys from
``leadtocash_adapters.auth.ApiKeyAuthenticator.issue_key``; back its ``records`` with your
database to keep them). The endpoints are thin: each calls one facade method as the caller's
principal, so authorization, data scopes, masking, the duplicate check, audit and outbox all
happen in the library.

=======================================  =====================================================
``POST /leads``                          capture a lead (body: the channel payload) → 201
``POST /customers/{id}/claim``           claim a customer from its pool (领取)
``POST /customers/{id}/release``         release it to the pool (退回); body ``{"reason"}``
``GET /me/customers?after=&limit=``      the caller's customers, a keyset page
=======================================  =====================================================

Errors answer ``{"code", "message", "details"}`` with the library's stable code and the text
in the caller's language (``Accept-Language``): validation 422 (every bad field), sign-in 401,
permission 403, not found 404, rule or state refusals and conflicts 409, storage down 503.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from leadtocash import (
    AuthenticationFailed,
    ConcurrencyConflict,
    InvalidTransition,
    LeadToCash,
    LeadToCashError,
    NotFound,
    PermissionDenied,
    Principal,
    RandomIds,
    RuleViolation,
    StorageUnavailable,
    Store,
    SystemClock,
    ValidationError,
    connect,
    describe_error,
    unstructure,
)
from leadtocash.app import CustomerFilter
from leadtocash.ports import Authenticator, Clock, IdSource

__all__ = ["app_from_env", "create_app"]

_STATUS: tuple[tuple[type[LeadToCashError], int], ...] = (
    (ValidationError, 422),
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (ConcurrencyConflict, 409),
    (RuleViolation, 409),
    (InvalidTransition, 409),
    (StorageUnavailable, 503),
)


def _status(error: LeadToCashError) -> int:
    return next((status for kind, status in _STATUS if isinstance(error, kind)), 400)


def _locale(request: Request) -> str:
    """The caller's first language (``Accept-Language: zh-CN,zh;q=0.9`` → ``zh-CN``)."""
    first = request.headers.get("accept-language", "").split(",")[0].split(";")[0].strip()
    return first or "en"


def _cursor(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    try:
        value, ident = json.loads(base64.urlsafe_b64decode(text.encode("ascii")))
        return str(value), str(ident)
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise HTTPException(422, "after: not a cursor this API returned") from None


def _next(cursor: tuple[str, str] | None) -> str | None:
    if cursor is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(list(cursor)).encode()).decode("ascii")


def _caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The principal of the request's bearer API key (AuthenticationFailed otherwise)."""
    scheme, _, credential = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise AuthenticationFailed("a bearer API key is required", details={"reason": "none"})
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.authenticate(credential.strip())


Caller = Annotated[Principal, Depends(_caller)]


def create_app(
    store: Store,
    authenticator: Authenticator,
    *,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    close_store: bool = False,
) -> FastAPI:
    """The web app over ``store``; ``close_store`` closes it when the app shuts down."""
    crm = LeadToCash(store=store, clock=clock or SystemClock(), ids=ids or RandomIds())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        crm.warm_up()  # the converters are built before the first request, not during it
        yield
        if close_store:
            store.close()

    app = FastAPI(title="leadtocash example", lifespan=lifespan)
    app.state.authenticator = authenticator

    @app.exception_handler(LeadToCashError)
    async def library_error(request: Request, error: LeadToCashError) -> JSONResponse:
        details = {} if isinstance(error, AuthenticationFailed) else error.details  # no hints
        body = {
            "code": error.code,
            "message": describe_error(error, _locale(request)),
            "details": unstructure(details),
        }
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, AuthenticationFailed) else {}
        return JSONResponse(body, status_code=_status(error), headers=headers)

    @app.post("/leads", status_code=201)
    def capture_lead(principal: Caller, payload: Annotated[dict[str, Any], Body()]) -> Any:
        return unstructure(crm.leads.capture(principal, payload))

    @app.post("/customers/{customer_id}/claim")
    def claim(principal: Caller, customer_id: str) -> Any:
        return unstructure(crm.pools.claim(principal, customer_id))

    @app.post("/customers/{customer_id}/release")
    def release(
        principal: Caller, customer_id: str, reason: Annotated[str, Body(embed=True)]
    ) -> Any:
        return unstructure(crm.pools.release(principal, customer_id, reason))

    @app.get("/me/customers")
    def my_customers(
        principal: Caller,
        after: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> Any:
        if principal.rep_id is None:
            raise PermissionDenied(
                f"{principal.user_id} is not a sales rep", details={"user_id": principal.user_id}
            )
        page = crm.customers.list(
            principal, CustomerFilter(owner=principal.rep_id), after=_cursor(after), limit=limit
        )
        return {"items": [unstructure(c) for c in page.items], "next": _next(page.next_cursor)}

    return app


def app_from_env() -> FastAPI:
    """The app on ``LEADTOCASH_URL`` (default ``sqlite:///crm.db``), for ``uvicorn --factory``.

    Keys live in memory here: issue some at startup (or back the authenticator's ``records``
    with your database) — see docs/adapters/auth.md.
    """
    from leadtocash_adapters.auth import ApiKeyAuthenticator

    store = connect(os.environ.get("LEADTOCASH_URL", "sqlite:///crm.db"))
    return create_app(store, ApiKeyAuthenticator(), close_store=True)
