"""The dashboard's session: log in with the backend account, the token kept in an HttpOnly cookie.

`POST /session/login` sends the phone number and password to the Java backend's `/auth/login`
(they are never stored or logged here), checks that the access token it answers is one this API
accepts (same secret and issuer), and sets two cookies: the access token and the refresh token,
HttpOnly (no script can read them), SameSite=Strict, Secure over https, scoped to `/` (the refresh
cookie to `/api/v1/session`). The access cookie lives as long as the token; `POST /session/refresh`
trades the refresh cookie for a new pair at the backend's `/auth/refresh`. `POST /session/logout`
clears both.
"""

from __future__ import annotations

import logging
import time

import httpx
from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from salesflow_pipelines.api.auth import (
    ACCESS_COOKIE,
    ADMIN,
    CSRF_HEADER,
    CSRF_VALUE,
    REFRESH_COOKIE,
    Principal,
    authenticate,
)
from salesflow_pipelines.api.common import state_of

router = APIRouter(prefix="/session", tags=["dashboard session"])
log = logging.getLogger("salesflow.api.session")
REFRESH_MAX_AGE = 7 * 24 * 3600
REFRESH_COOKIE_PATH = "/api/v1/session"  # only this router's routes need the refresh token


class Login(BaseModel):
    phoneNumber: str = Field(min_length=1, max_length=64)  # noqa: N815 - the backend's field name
    password: str = Field(min_length=1, max_length=256)


def _secure(request: Request) -> bool:
    setting = state_of(request).settings.cookie_secure
    if setting == "auto":
        return request.url.scheme == "https"
    return setting == "always"


def _set_cookies(request: Request, response: Response, principal: Principal, access: str, refresh: str | None) -> None:
    secure = _secure(request)
    lifetime = max(1, int((principal.expires_at or time.time()) - time.time()))
    response.set_cookie(ACCESS_COOKIE, access, max_age=lifetime, httponly=True, secure=secure, samesite="strict")
    if refresh:
        response.set_cookie(
            REFRESH_COOKIE,
            refresh,
            max_age=REFRESH_MAX_AGE,
            httponly=True,
            secure=secure,
            samesite="strict",
            path=REFRESH_COOKIE_PATH,
        )


def _who(principal: Principal, request: Request) -> dict:
    return {
        "username": principal.username,
        "subject": principal.subject,
        "roles": sorted(principal.roles),
        "is_admin": principal.has(ADMIN),
        "expires_at": principal.expires_at,
        "via": principal.via,
        "currency": state_of(request).settings.currency,
    }


def _backend(request: Request, path: str, body: dict) -> dict:
    settings = state_of(request).settings
    url = f"{settings.java_api_url}{path}"
    try:
        answer = httpx.post(url, json=body, timeout=settings.java_timeout_seconds)
    except httpx.HTTPError as error:
        log.warning("backend %s unreachable: %s", url, type(error).__name__)
        raise HTTPException(502, f"The SalesFlow backend at {settings.java_api_url} cannot be reached") from None
    if answer.status_code in (400, 401, 403):
        return {}
    if answer.status_code != 200:
        raise HTTPException(502, f"The SalesFlow backend answered {answer.status_code} to {path}")
    try:
        content = answer.json()
    except ValueError:
        raise HTTPException(502, f"The SalesFlow backend's answer to {path} is not JSON") from None
    return content if isinstance(content, dict) else {}


def _accepted(request: Request, token: str | None) -> Principal:
    if not token:
        raise HTTPException(502, "The SalesFlow backend answered without an access token")
    try:
        return request.app.state.verifier.verify(token, "cookie")
    except HTTPException as error:
        raise HTTPException(
            502,
            f"The backend's token is not accepted here ({error.detail}): JAVA_JWT_SECRET or the issuer differ "
            "between this API and the backend",
        ) from None


def _dashboard_only(request: Request) -> None:
    if request.headers.get(CSRF_HEADER) != CSRF_VALUE:
        raise HTTPException(403, f"A dashboard request that changes something must carry {CSRF_HEADER}")


def _open_session(request: Request, response: Response, path: str, body: dict, refused: str) -> dict:
    """Trade `body` for tokens at the backend's `path` and set them as cookies; 401 with `refused` when the
    backend refuses. Answers who is now logged in."""
    answer = _backend(request, path, body)
    if not answer:
        raise HTTPException(401, refused)
    token = answer.get("accessToken")
    principal = _accepted(request, token)
    _set_cookies(request, response, principal, token, answer.get("refreshToken"))
    return _who(principal, request)


@router.post("/login", summary="Log in with the backend account (dashboard)")
def login(request: Request, response: Response, credentials: Login) -> dict:
    _dashboard_only(request)
    body = {"phoneNumber": credentials.phoneNumber, "password": credentials.password}
    return _open_session(request, response, "/auth/login", body, refused="Wrong phone number or password")


@router.post("/refresh", summary="A new access token from the refresh cookie (dashboard)")
def refresh(request: Request, response: Response) -> dict:
    _dashboard_only(request)
    refresh_token = request.cookies.get(REFRESH_COOKIE)
    if not refresh_token:
        raise HTTPException(401, "No session to refresh: log in again")
    body = {"refreshToken": refresh_token}
    return _open_session(request, response, "/auth/refresh", body, refused="The session has ended: log in again")


@router.post("/logout", summary="End the dashboard session")
def logout(request: Request, response: Response) -> dict:
    secure = _secure(request)
    response.delete_cookie(ACCESS_COOKIE, httponly=True, samesite="strict", secure=secure)
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, httponly=True, samesite="strict", secure=secure)
    return {"status": "logged out"}


@router.get("", summary="Who the dashboard is logged in as")
def who(request: Request) -> dict:
    """The signed-in user (`authenticated: true`), or `authenticated: false` and whether a refresh
    cookie is there to try (the page asks this first; a 200 either way keeps its console clean)."""
    try:
        principal = authenticate(request)
    except HTTPException as error:
        if error.status_code != 401:
            raise
        return {"authenticated": False, "can_refresh": REFRESH_COOKIE in request.cookies}
    return {"authenticated": True, **_who(principal, request)}
