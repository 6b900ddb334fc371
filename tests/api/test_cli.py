"""The operator commands: API keys from the CLI, and the demo that prints a working admin key."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from drawdown.api.app import create_app
from drawdown.book import open_book
from drawdown.cli.main import app

runner = CliRunner()


def test_keys_are_created_listed_and_revoked_from_the_cli(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/keys.db"
    made = runner.invoke(app, ["keys", "create", "--role", "finance", "--label", "month-end", "--db", db])
    assert made.exit_code == 0, made.output
    created = json.loads(made.output)
    assert created["token"].startswith(f"dd_{created['id']}_")
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json", "--db", db]).output)
    assert [(k["id"], k["role"], k["revoked_at"]) for k in listed] == [(created["id"], "finance", None)]
    assert created["token"] not in runner.invoke(app, ["keys", "list", "--db", db]).output
    with open_book(db) as book:
        client = TestClient(create_app(book))
        headers = {"Authorization": f"Bearer {created['token']}"}
        assert client.get("/v1/verify", headers=headers).status_code == 200
        assert runner.invoke(app, ["keys", "revoke", created["id"], "--db", db]).exit_code == 0
        assert client.get("/v1/verify", headers=headers).status_code == 401
        audit = book.audit()
    assert [r.operation for r in audit] == ["create_key", "revoke_key"]


def test_key_commands_refuse_bad_roles_and_unknown_keys(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/keys.db"
    assert runner.invoke(app, ["keys", "create", "--role", "root", "--db", db]).exit_code == 2
    assert runner.invoke(app, ["keys", "create", "--role", "customer", "--db", db]).exit_code == 2
    assert runner.invoke(app, ["keys", "create", "--role", "customer", "--account", "ghost", "--db", db]).exit_code == 3
    assert runner.invoke(app, ["keys", "revoke", "key_nope", "--db", db]).exit_code == 3


def test_the_demo_seeds_a_fresh_database_and_prints_a_working_admin_key(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/demo.db"
    result = runner.invoke(app, ["demo", "--db", db, "--no-serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    token = re.search(r"admin key:\s+(\S+)", result.output)
    assert token is not None
    assert "http://127.0.0.1:8123/docs" in result.output
    assert "http://127.0.0.1:8123/metrics" in result.output
    with open_book(db) as book:
        client = TestClient(create_app(book))
        balance = client.get("/v1/accounts/acme/balance", headers={"Authorization": f"Bearer {token.group(1)}"})
        assert balance.status_code == 200
        assert balance.json()["consumed"] != "0.000000"
        assert book.verify().ok
        assert book.balance("acme", "AI_CREDIT").reserved_units > 0, "the demo leaves a hold open"
        assert book.balance("acme").consumed_units > 62_350_000, "last month's invoice drew credit too"
