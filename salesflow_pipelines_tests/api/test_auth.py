"""Who may ask: the Java backend's tokens only (HS256, the shared secret, issuer salesflow-app, not
expired), roles from the token, the dashboard's cookie with its request header, dev mode only when
configured, CORS for the configured origins only."""

from __future__ import annotations

import base64
import json
import logging
import time

import httpx
import jwt
import pytest

from salesflow_pipelines.api.settings import ApiSettings, SettingsError
from salesflow_pipelines_tests.api.conftest import ALLOWED_ORIGIN, SECRET, bearer, token

ROUTE = "/analytics/sales"


def unsigned(claims: dict) -> str:
    """A token with `alg: none` and no signature."""

    def part(content: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(content).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def valid_claims() -> dict:
    return {"sub": "0000000000", "role": "ADMIN", "iss": "salesflow-app", "exp": int(time.time()) + 600}


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Missing Authorization header"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "Invalid Authorization header format (expected Bearer token)"),
        ({"Authorization": "Bearer"}, "Invalid Authorization header format (expected Bearer token)"),
        ({"Authorization": "Bearer a b"}, "Invalid Authorization header format (expected Bearer token)"),
        ({"Authorization": "Bearer not-a-jwt"}, "Invalid token"),
        ({"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30"}, "Invalid token"),
        (bearer(ttl=-5), "Token has expired"),
        (bearer(secret="another-secret-of-another-backend-0123456789"), "Invalid token signature"),
        (bearer(issuer="someone-else"), "Invalid token issuer (expected salesflow-app)"),
        (bearer(issuer=None), "Token lacks the 'iss' claim"),
        (bearer(jwt.encode({k: v for k, v in valid_claims().items() if k != "exp"}, SECRET)), "lacks the 'exp' claim"),
        (bearer(unsigned(valid_claims())), "Token algorithm not allowed (expected HS256)"),
        (bearer(jwt.encode(valid_claims(), SECRET, algorithm="HS512")), "Token algorithm not allowed (expected HS256)"),
    ],
    ids=[
        "missing",
        "basic",
        "bearer-without-token",
        "two-words",
        "not-a-jwt",
        "no-signature-part",
        "expired",
        "wrong-secret",
        "wrong-issuer",
        "no-issuer",
        "no-exp",
        "alg-none",
        "hs512",
    ],
)
def test_every_bad_token_is_401_with_a_sentence(running_api, headers, detail):
    with httpx.Client(base_url=f"{running_api.url}/api/v1", timeout=30) as client:
        answer = client.get(ROUTE, headers=headers)
    assert answer.status_code == 401, answer.text
    assert detail in answer.json()["detail"]
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_token_from_the_backend_login_is_accepted(running_api, standin):
    login = httpx.post(f"{standin.base_url}/auth/login", json={"phoneNumber": "1111111111", "password": "user123"})
    answer = running_api.get(ROUTE, headers=bearer(login.json()["accessToken"]))
    assert answer.status_code == 200, answer.text


def test_roles_come_from_the_token_in_either_form(running_api):
    upload = {"file": ("sales.csv", b"sku,quantity\nSKU-0001,1\n", "text/csv")}
    for admin in (token("ADMIN"), token(["ROLE_ADMIN"]), token(["USER", "ADMIN"])):
        assert running_api.get(ROUTE, headers=bearer(admin)).status_code == 200
    for user in (token("USER"), token(["USER"]), token(None)):
        assert running_api.get(ROUTE, headers=bearer(user)).status_code == 200  # reading needs no role
        answer = running_api.post("/excel/import-sales", headers=bearer(user), files=upload)
        assert answer.status_code == 403 and "ADMIN" in answer.json()["detail"]
        status = running_api.get(f"/excel/imports/{'0' * 64}", headers=bearer(user))
        assert status.status_code == 403


def test_the_body_cannot_grant_access(running_api):
    body = {"payload": {"scope": "GLOBAL"}, "required_roles": []}
    with running_api.client() as anonymous:
        assert anonymous.post("/ml/forecast", json=body).status_code == 401


def test_health_and_docs_need_no_token(running_api):
    with httpx.Client(base_url=running_api.url, timeout=30) as client:
        health = client.get("/api/v1/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "service": "salesflow-api", "message": "SalesFlow read API is running"}
        schema = client.get("/api/v1/openapi.json").json()
        assert {"/api/v1/analytics/sales", "/api/v1/ml/forecast", "/api/v1/excel/import-sales"} <= set(schema["paths"])
        docs = client.get("/api/v1/docs")
        assert docs.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
        assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_the_dashboard_cookie_needs_its_header_for_changes(running_api):
    cookie = {"salesflow_access": token("ADMIN")}
    with httpx.Client(base_url=f"{running_api.url}/api/v1", cookies=cookie, timeout=30) as client:
        assert client.get(ROUTE).status_code == 200
        refused = client.post("/ml/forecast", json={"payload": {}})
        assert refused.status_code == 403 and "X-Requested-With" in refused.json()["detail"]
        allowed = client.post("/ml/forecast", json={"payload": {}}, headers={"X-Requested-With": "salesflow-dashboard"})
        assert allowed.status_code == 200
    with httpx.Client(base_url=f"{running_api.url}/api/v1", cookies={"salesflow_access": "junk"}, timeout=30) as client:
        assert client.get(ROUTE).status_code == 401


def test_dashboard_login_sets_http_only_cookies_from_the_backend(running_api):
    headers = {"X-Requested-With": "salesflow-dashboard"}
    with httpx.Client(base_url=f"{running_api.url}/api/v1", timeout=30) as client:
        wrong = client.post("/session/login", json={"phoneNumber": "0000000000", "password": "nope"}, headers=headers)
        assert wrong.status_code == 401 and wrong.json()["detail"] == "Wrong phone number or password"
        login = client.post(
            "/session/login", json={"phoneNumber": "0000000000", "password": "admin123"}, headers=headers
        )
        assert login.status_code == 200 and login.json()["is_admin"] is True
        set_cookies = login.headers.get_list("set-cookie")
        assert all("httponly" in line.lower() and "samesite=strict" in line.lower() for line in set_cookies)
        assert {line.split("=")[0] for line in set_cookies} == {"salesflow_access", "salesflow_refresh"}
        assert "accessToken" not in login.text  # the token stays in the cookie, out of the page's reach
        assert client.get("/session").json()["username"] == "admin"
        assert client.get(ROUTE).status_code == 200
        refreshed = client.post("/session/refresh", headers=headers)
        assert refreshed.status_code == 200
        client.post("/session/logout", headers=headers)
        assert client.get(ROUTE).status_code == 401
        assert client.get("/session").json() == {"authenticated": False, "can_refresh": False}


def test_dev_mode_is_off_unless_configured_and_loud_when_on(api_server, caplog):
    with pytest.raises(SettingsError, match="JAVA_JWT_SECRET is not set"):
        ApiSettings.from_env({})
    with caplog.at_level(logging.ERROR, logger="salesflow.api"):
        dev = api_server(jwt_secret=None, dev_mode=True)
        with httpx.Client(base_url=f"{dev.url}/api/v1", timeout=30) as client:
            answer = client.get(ROUTE)
            assert answer.status_code == 200
            assert client.get(ROUTE, headers=bearer(ttl=-5)).status_code == 401  # a token given is still checked
    messages = [record.getMessage() for record in caplog.records]
    assert any("SALESFLOW_API_DEV_MODE is on" in message for message in messages)
    assert any("DEV MODE" in message and ROUTE in message for message in messages)


def test_cors_answers_the_configured_origin_only(running_api):
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    with httpx.Client(base_url=f"{running_api.url}/api/v1", timeout=30) as client:
        allowed = client.options(ROUTE, headers={"Origin": ALLOWED_ORIGIN, **preflight})
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        other = client.options(ROUTE, headers={"Origin": "https://evil.example.com", **preflight})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
        read = client.get(ROUTE, headers={"Origin": "https://evil.example.com", **bearer()})
        assert "access-control-allow-origin" not in read.headers
