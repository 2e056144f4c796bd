"""The FastAPI application: the legacy routes under `/api/v1`, the dashboard at `/`, docs at `/api/v1/docs`.

`create_app()` reads the settings from the environment (`ApiSettings.from_env`); uvicorn runs it
as a factory (`salesflow api`). Errors are always `{"detail": "<sentence>"}`: 400 for a bad
query, 401/403 for auth, 404 for what does not exist, 413/415/422 for uploads and bodies, 503 when
the warehouse cannot be read; an unexpected error is logged and answered 500 without internals.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from salesflow_pipelines.api import analytics, imports, ml, reports, session
from salesflow_pipelines.api.auth import TokenVerifier
from salesflow_pipelines.api.cache import DataVersion, ResponseCache
from salesflow_pipelines.api.common import ApiState
from salesflow_pipelines.api.periods import BadRange
from salesflow_pipelines.api.schemas import Health
from salesflow_pipelines.api.settings import ApiSettings
from salesflow_pipelines.api.store import ReadStore, WarehouseUnavailable

log = logging.getLogger("salesflow.api")

API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).parent / "static"
SERVICE = "salesflow-api"
# The dashboard loads nothing from elsewhere and runs no inline script.
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings.from_env()
    store = ReadStore(settings.warehouse_url, settings.pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.dev_mode:
            log.error(
                "SALESFLOW_API_DEV_MODE is on: requests WITHOUT a token are let through as user 'dev' with role "
                "ADMIN. Never run it like this where anyone else can reach the port."
            )
        if settings.jwt_secret and len(settings.jwt_secret) < 32:
            log.warning("JAVA_JWT_SECRET is shorter than 32 bytes: weak for HS256 (the backend's choice, but say so)")
        log.info("SalesFlow API reading %s (%s)", store.description, "read-only sessions")
        yield
        store.close()

    app = FastAPI(
        title="SalesFlow read API",
        version="1.0.0",
        summary="KPIs, stock, forecasts, anomalies and reports from the SalesFlow warehouse; Excel import intake.",
        description=(
            "Every route but `/health` needs the Java backend's JWT: `Authorization: Bearer <token>` "
            "(HS256, issuer `salesflow-app`). Periods end on the newest day the warehouse holds."
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    version = DataVersion(store.version, settings.recheck_seconds)
    app.state.api = ApiState(settings=settings, store=store, cache=ResponseCache(), version=version)
    app.state.verifier = TokenVerifier(settings)

    for router in (analytics.router, ml.router, reports.router, imports.router, session.router):
        app.include_router(router, prefix=API_PREFIX)
    _error_handlers(app)
    _plain_routes(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=False,  # the frontend sends a Bearer header, not cookies
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Content-Disposition"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    return app


class SecurityHeaders:
    """nosniff, same-origin referrers and no framing on every answer (a plain ASGI middleware: cheap)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + COMMON_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [_sentence(item) for item in error.errors()]
        return JSONResponse({"detail": "; ".join(problems), "errors": problems}, status_code=422)

    @app.exception_handler(BadRange)
    async def bad_range(request: Request, error: BadRange) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    @app.exception_handler(WarehouseUnavailable)
    async def unavailable(request: Request, error: WarehouseUnavailable) -> JSONResponse:
        log.warning("warehouse unavailable: %s", error)
        return JSONResponse({"detail": f"The warehouse cannot be read: {error}"}, status_code=503)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Internal error; the API's log has the details"}, status_code=500)


def _sentence(item: dict) -> str:
    """`payload.forecast_days: Input should be less than or equal to 365`."""
    location = [str(part) for part in item.get("loc", ()) if part not in ("body", "query")]
    message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{'.'.join(location)}: {message}" if location else message


def _plain_routes(app: FastAPI) -> None:
    @app.get(f"{API_PREFIX}/health", response_model=Health, tags=["health"], summary="Liveness (no auth)")
    def health() -> dict:
        return {"status": "ok", "service": SERVICE, "message": "SalesFlow read API is running"}

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="SalesFlow read API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html",
            headers={"Content-Security-Policy": DASHBOARD_CSP, "Cache-Control": "no-cache"},
        )

    @app.get(f"{API_PREFIX}", include_in_schema=False)
    def api_root() -> dict:
        raise HTTPException(404, f"See {API_PREFIX}/docs for the routes")
