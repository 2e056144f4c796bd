"""The read API's settings, all from the environment (read once, when the app is made).

- SALESFLOW_API_WAREHOUSE_URL: where the API reads (default SALESFLOW_WAREHOUSE_URL, else the
  embedded SQLite file); in deployment the read-only role `salesflow_reader`
- JAVA_JWT_SECRET (required): the HS256 secret the Java backend signs its tokens with;
  SALESFLOW_API_JWT_SECRET_ENCODING=base64 when the backend's secret is configured base64-encoded
- SALESFLOW_API_JWT_ISSUER (`salesflow-app`): the `iss` every token must carry;
  SALESFLOW_API_JWT_LEEWAY_SECONDS (0): clock skew allowed on `exp`
- SALESFLOW_API_DEV_MODE (off): `true` lets a request without a token act as user `dev` (ADMIN),
  logged loudly; `salesflow api` refuses it on a non-loopback address
- SALESFLOW_API_CORS_ORIGINS (none): comma-separated origins of the frontend
- JAVA_API_URL (`http://localhost:8080/api/v1`): the backend the dashboard's login goes to
- SALESFLOW_IMPORT_INBOX (`<SALESFLOW_DATA_DIR>/import-inbox`): where accepted uploads go
- SALESFLOW_REPORTS_DIR (`<SALESFLOW_DATA_DIR>/reports`): the scheduled report files
- SALESFLOW_API_MAX_UPLOAD_MB (20): larger uploads are refused with 413
- SALESFLOW_API_MAX_RANGE_DAYS (3660): the longest date range a request may ask for
- SALESFLOW_API_COOKIE_SECURE (`auto`): the dashboard's cookies Secure over https (`auto`),
  always or never
- SALESFLOW_API_POOL_SIZE (8): warehouse connections per API process
- SALESFLOW_API_RECHECK_SECONDS (1): how often the warehouse's data version is looked up; cached
  answers follow a commit within that time (0: looked up on every request)
- SALESFLOW_CURRENCY (`USD`): the currency the dashboard and rendered reports show
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from salesflow_pipelines.lib.backend.java_client import DEFAULT_BASE_URL

DEFAULT_ISSUER = "salesflow-app"
DEFAULT_MAX_UPLOAD_MB = 20
DEFAULT_MAX_RANGE_DAYS = 3660
COOKIE_SECURE_CHOICES = ("auto", "always", "never")
TRUE_WORDS = ("1", "true", "yes", "on")


class SettingsError(ValueError):
    """A setting that cannot work; the message names the variable and what to set."""


@dataclass(frozen=True)
class ApiSettings:
    warehouse_url: str
    jwt_secret: bytes | None
    inbox: Path
    reports_dir: Path
    jwt_issuer: str = DEFAULT_ISSUER
    jwt_leeway_seconds: float = 0.0
    dev_mode: bool = False
    cors_origins: tuple[str, ...] = ()
    java_api_url: str = DEFAULT_BASE_URL
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
    max_range_days: int = DEFAULT_MAX_RANGE_DAYS
    cookie_secure: str = "auto"
    pool_size: int = 8
    recheck_seconds: float = 1.0
    currency: str = "USD"
    import_max_rows: int = 500_000
    import_max_quantity: int = 10_000
    java_timeout_seconds: float = 15.0

    def __post_init__(self) -> None:
        if not self.jwt_secret and not self.dev_mode:
            raise SettingsError(
                "JAVA_JWT_SECRET is not set: the API verifies the Java backend's tokens with it. Set it to the "
                "backend's JWT secret (or SALESFLOW_API_DEV_MODE=true on a developer's machine only)."
            )
        if self.cookie_secure not in COOKIE_SECURE_CHOICES:
            raise SettingsError(f"SALESFLOW_API_COOKIE_SECURE must be one of {COOKIE_SECURE_CHOICES}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if environ is None else environ
        from salesflow_pipelines.defs.resources import default_import_inbox, default_reports_dir, local_data_dir

        warehouse_url = (
            env.get("SALESFLOW_API_WAREHOUSE_URL")
            or env.get("SALESFLOW_WAREHOUSE_URL")
            or f"sqlite:///{os.path.join(local_data_dir(), 'warehouse.db')}"
        )
        return cls(
            warehouse_url=warehouse_url,
            jwt_secret=_secret(env.get("JAVA_JWT_SECRET", ""), env.get("SALESFLOW_API_JWT_SECRET_ENCODING", "raw")),
            inbox=Path(env.get("SALESFLOW_IMPORT_INBOX") or default_import_inbox()).resolve(),
            reports_dir=Path(env.get("SALESFLOW_REPORTS_DIR") or default_reports_dir()).resolve(),
            jwt_issuer=env.get("SALESFLOW_API_JWT_ISSUER") or DEFAULT_ISSUER,
            jwt_leeway_seconds=_number(env, "SALESFLOW_API_JWT_LEEWAY_SECONDS", 0.0),
            dev_mode=env.get("SALESFLOW_API_DEV_MODE", "").strip().lower() in TRUE_WORDS,
            cors_origins=tuple(
                origin.strip().rstrip("/")
                for origin in env.get("SALESFLOW_API_CORS_ORIGINS", "").split(",")
                if origin.strip()
            ),
            java_api_url=(env.get("JAVA_API_URL") or DEFAULT_BASE_URL).rstrip("/"),
            max_upload_bytes=int(_number(env, "SALESFLOW_API_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB) * 1024 * 1024),
            max_range_days=int(_number(env, "SALESFLOW_API_MAX_RANGE_DAYS", DEFAULT_MAX_RANGE_DAYS)),
            cookie_secure=(env.get("SALESFLOW_API_COOKIE_SECURE") or "auto").strip().lower(),
            pool_size=int(_number(env, "SALESFLOW_API_POOL_SIZE", 8)),
            recheck_seconds=_number(env, "SALESFLOW_API_RECHECK_SECONDS", 1.0),
            currency=(env.get("SALESFLOW_CURRENCY") or "USD").upper(),
            import_max_quantity=int(_number(env, "SALESFLOW_IMPORT_MAX_QUANTITY", 10_000)),
        )


def _secret(value: str, encoding: str) -> bytes | None:
    if not value:
        return None
    if encoding.strip().lower() == "base64":
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as error:
            raise SettingsError(f"JAVA_JWT_SECRET is not valid base64 ({error})") from None
    if encoding.strip().lower() != "raw":
        raise SettingsError("SALESFLOW_API_JWT_SECRET_ENCODING must be 'raw' or 'base64'")
    return value.encode()


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {text!r}") from None
