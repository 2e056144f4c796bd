"""`salesflow api`: the read API and dashboard under uvicorn."""

from __future__ import annotations

import copy
import sys

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(host: str, port: int, workers: int = 1, access_log: bool = True) -> int:
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from salesflow_pipelines.api.settings import ApiSettings, SettingsError

    try:
        settings = ApiSettings.from_env()
    except SettingsError as error:
        print(f"salesflow api: {error}", file=sys.stderr)
        return 2
    if settings.dev_mode and host not in LOOPBACK:
        print(
            "salesflow api: SALESFLOW_API_DEV_MODE lets requests without a token through; it is refused on "
            f"{host} (serve on 127.0.0.1, or turn dev mode off)",
            file=sys.stderr,
        )
        return 2
    # uvicorn's own logging, with the API's loggers (`salesflow.*`: dev mode, warehouse trouble) beside it.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["salesflow"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    uvicorn.run(
        "salesflow_pipelines.api.app:create_app",
        log_config=log_config,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        proxy_headers=True,
        log_level="info",
    )
    return 0
