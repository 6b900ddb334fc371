"""Structured JSON logs with request ids, and Prometheus metrics, per app instance."""

from __future__ import annotations

import json
import logging
import time
from importlib.metadata import version
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

VERSION = version("drawdown")
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)  # logs only, never responses
        return json.dumps(entry, default=str)


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("drawdown", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our request log replaces it


class Metrics:
    """A registry per app, so several apps (tests) never clash."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "drawdown_http_request_duration_seconds", "HTTP request latency by route template and status.",
            ["method", "route", "status"], registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )  # fmt: skip
        self.ledger_writes = Counter(
            "drawdown_ledger_transactions_written", "Ledger transactions posted through the API, by operation.",
            ["operation"], registry=self.registry,
        )  # fmt: skip
        self.replays = Counter(
            "drawdown_idempotent_replays", "Write requests answered from a stored response.", ["operation"],
            registry=self.registry,
        )  # fmt: skip
        self.swept = Counter(
            "drawdown_swept", "Changes made by the background sweep: holds released, grants expired, usage burned.",
            ["kind"], registry=self.registry,
        )  # fmt: skip
        self.sweep_failures = Counter(
            "drawdown_sweep_failures", "Background sweeps that raised (logged; the next sweep retries).",
            registry=self.registry,
        )  # fmt: skip
