"""The process entry point uvicorn loads: ``drawdown.api.main:app_from_env`` (a factory).

``drawdown serve`` puts its flags into the environment and starts uvicorn with this
factory, so the CLI never imports the API (they are sibling edges).
"""

from __future__ import annotations

from fastapi import FastAPI

from drawdown.api.app import create_app
from drawdown.api.observability import configure_logging
from drawdown.book import open_book
from drawdown.bootstrap import ServerSettings


def app_from_env() -> FastAPI:
    settings = ServerSettings.from_env()
    configure_logging(settings.log_level)
    return create_app(open_book(settings.db, actor="api"), settings, close_book=True)
