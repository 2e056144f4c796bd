"""Who is asking: the Java backend's HS256 JWTs, verified with PyJWT; roles from the token.

A token comes as `Authorization: Bearer <JWT>` (the React frontend) or, for the dashboard, in the
HttpOnly cookie the login route set. It must be signed with `JAVA_JWT_SECRET` (HS256 only: `none`
and every other algorithm are refused), carry issuer `salesflow-app`, a subject and an `exp` in
the future. Anything else is 401 with a sentence saying which of those failed. Roles come from
the token: Java's one-string `role` claim, or a `roles` list (the legacy doc's form), upper-cased,
`ROLE_` prefixes dropped. A route that needs a role answers 403 to a token without it.

A request authenticated by the cookie and not a plain read (POST, PUT, DELETE…) must carry the
header `X-Requested-With: salesflow-dashboard`, which a page of another site cannot send without
CORS allowing it: with the SameSite=Strict cookie, a second guard against cross-site requests.

`SALESFLOW_API_DEV_MODE=true` lets a request without any token through as user `dev` with role
ADMIN (the legacy DEV_MODE); off unless set, logged as an error at start and on every such request.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from salesflow_pipelines.api.settings import ApiSettings

log = logging.getLogger("salesflow.api.auth")

ACCESS_COOKIE = "salesflow_access"
REFRESH_COOKIE = "salesflow_refresh"
CSRF_HEADER = "X-Requested-With"
CSRF_VALUE = "salesflow-dashboard"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ADMIN = "ADMIN"


@dataclass(frozen=True)
class Principal:
    subject: str
    username: str
    roles: frozenset[str]
    expires_at: float | None
    via: str  # "bearer", "cookie" or "dev"

    def has(self, role: str) -> bool:
        return role in self.roles


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=401,
        detail=detail,
        headers={"WWW-Authenticate": 'Bearer realm="salesflow", error="invalid_token"'},
    )


class TokenVerifier:
    """Verifies tokens; a token verified once is known until its `exp` (a dashboard asks many times)."""

    KNOWN_MAX = 4096

    def __init__(self, settings: ApiSettings):
        self.secret = settings.jwt_secret
        self.issuer = settings.jwt_issuer
        self.leeway = settings.jwt_leeway_seconds
        self.dev_mode = settings.dev_mode
        self._known: dict[tuple[str, str], Principal] = {}

    def verify(self, token: str, via: str = "bearer") -> Principal:
        """The token's principal, or a 401 `HTTPException` saying what is wrong with it."""
        known = self._known.get((token, via))
        if known is not None and known.expires_at is not None and time.time() < known.expires_at + self.leeway:
            return known
        principal = self._verified(token, via)
        if len(self._known) >= self.KNOWN_MAX:
            self._known.clear()
        self._known[(token, via)] = principal
        return principal

    def _verified(self, token: str, via: str) -> Principal:
        if not self.secret:
            raise unauthorized("This API has no JAVA_JWT_SECRET configured and cannot verify tokens")
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("Token has expired") from None
        except jwt.InvalidSignatureError:
            raise unauthorized("Invalid token signature") from None
        except jwt.InvalidIssuerError:
            raise unauthorized(f"Invalid token issuer (expected {self.issuer})") from None
        except jwt.MissingRequiredClaimError as error:
            raise unauthorized(f"Token lacks the '{error.claim}' claim") from None
        except jwt.InvalidAlgorithmError:
            raise unauthorized("Token algorithm not allowed (expected HS256)") from None
        except jwt.ImmatureSignatureError:
            raise unauthorized("Token is not valid yet") from None
        except jwt.InvalidTokenError as error:
            raise unauthorized(f"Invalid token ({error})") from None
        return Principal(
            subject=str(claims["sub"]),
            username=str(claims.get("username") or claims["sub"]),
            roles=roles_of(claims),
            expires_at=float(claims["exp"]),
            via=via,
        )


def roles_of(claims: dict) -> frozenset[str]:
    """`role: "ADMIN"` (Java) and/or `roles: ["ADMIN", …]` (legacy), normalized."""
    found: list[str] = []
    for name in ("role", "roles", "authorities"):
        value = claims.get(name)
        if isinstance(value, str):
            found += value.replace(",", " ").split()
        elif isinstance(value, list):
            found += [item if isinstance(item, str) else str(item.get("authority", "")) for item in value]
    return frozenset(role.strip().upper().removeprefix("ROLE_") for role in found if role and role.strip())


DEV_PRINCIPAL = Principal(subject="dev", username="dev", roles=frozenset({ADMIN}), expires_at=None, via="dev")


def authenticate(request: Request) -> Principal:
    """The request's principal (a FastAPI dependency); 401 without a valid token."""
    verifier: TokenVerifier = request.app.state.verifier
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or " " in token.strip():
            raise unauthorized("Invalid Authorization header format (expected Bearer token)")
        return verifier.verify(token.strip(), "bearer")
    cookie = request.cookies.get(ACCESS_COOKIE)
    if cookie:
        principal = verifier.verify(cookie, "cookie")
        if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != CSRF_VALUE:
            raise HTTPException(403, f"A dashboard request that changes something must carry {CSRF_HEADER}")
        return principal
    if verifier.dev_mode:
        log.error("DEV MODE: %s %s let through without a token as user 'dev' (ADMIN)", request.method, request.url.path)
        return DEV_PRINCIPAL
    raise unauthorized("Missing Authorization header")


def require_admin(request: Request) -> Principal:
    principal = authenticate(request)
    if not principal.has(ADMIN):
        roles = ", ".join(sorted(principal.roles)) or "no role"
        raise HTTPException(403, f"This needs the ADMIN role; your token has {roles}")
    return principal


# Declares the Bearer scheme in the OpenAPI document (the docs' "Authorize" button); the checks
# and their messages are `authenticate`'s.
BEARER_SCHEME = HTTPBearer(auto_error=False, description="The Java backend's access token (HS256 JWT)")
SchemeCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)]


# The dependencies routes declare: async, so FastAPI runs them on the event loop (the checks are
# CPU-only and short) instead of handing each request to a worker thread.
async def authenticated(request: Request, _: SchemeCredentials) -> Principal:
    return authenticate(request)


async def admin(request: Request, _: SchemeCredentials) -> Principal:
    return require_admin(request)


def seconds_left(principal: Principal) -> int:
    if principal.expires_at is None:
        return 0
    return max(0, int(principal.expires_at - time.time()))
