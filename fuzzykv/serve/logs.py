"""Logging for the service: uvicorn's own configuration, plus the ``fuzzykv`` loggers on its handler."""

from __future__ import annotations

import copy
from typing import Any


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration, with ``fuzzykv.*`` (5xx tracebacks) going to stderr too."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["fuzzykv"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
