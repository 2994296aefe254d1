"""Shops, keys and the server from the command line, as the README shows them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from patron.cli.app import main
from patron.cli.options import Globals


@pytest.fixture(autouse=True)
def _reset_globals() -> None:
    Globals.db = None
    Globals.shop = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_shops_and_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'api.db'}"
    assert main(["--db", db, "db", "upgrade"]) == 0
    assert (
        main(["--db", db, "shops", "create", "acme", "--timezone", "UTC", "--currency", "usd"]) == 0
    )
    assert "shop 'acme' created time zone UTC, currency USD" in capsys.readouterr().out
    assert (
        main(["--db", db, "shops", "create", "acme", "--timezone", "UTC", "--currency", "USD"]) == 0
    )
    assert main(["--db", db, "shops", "create", "acme", "--timezone", "Asia/Tokyo"]) == 1
    assert "already exists" in capsys.readouterr().err

    assert main(["--db", db, "keys", "create", "--shop", "acme", "--scopes", "write"]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert token.startswith("ptk_") and "not shown again" in out.err
    assert main(["--db", db, "keys", "create", "--shop", "acme", "--scopes", "root"]) == 2
    assert "unknown scope 'root'" in capsys.readouterr().err
    assert main(["--db", db, "keys", "create", "--shop", "nope"]) == 3

    assert main(["--db", db, "keys", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["id"], k["shop"], k["scopes"], k["revoked_at"]) for k in listed] == [
        (1, "acme", "read,write", None)
    ]
    assert token.split("_")[2] not in json.dumps(listed)
    assert main(["--db", db, "keys", "revoke", "1"]) == 0
    assert "API key 1 of shop 'acme' revoked" in capsys.readouterr().out
    assert main(["--db", db, "keys", "list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked_at"] is not None


@pytest.mark.slow
def test_serve_answers_a_first_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'served.db'}"
    assert main(["--db", db, "db", "upgrade"]) == 0
    assert main(["--db", db, "shops", "create", "acme"]) == 0
    assert main(["--db", db, "keys", "create", "--shop", "acme", "--scopes", "read"]) == 0
    token = capsys.readouterr().out.splitlines()[-1]
    port = _free_port()
    env = {**os.environ, "PATRON_DATABASE_URL": db}
    server = subprocess.Popen(
        [sys.executable, "-m", "patron.cli.app", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                status, body = _get(f"{base}/readyz")
                break
            except OSError:
                time.sleep(0.1)
        assert (status, body["status"]) == (200, "ready")
        assert _get(f"{base}/v1/shop", token) == (200, {"name": "acme", "scopes": ["read"]})
        status, body = _get(f"{base}/v1/shop")
        assert status == 401
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_refuses_an_unmigrated_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", f"sqlite:///{tmp_path / 'new.db'}", "serve"]) == 1
    assert "patron db upgrade" in capsys.readouterr().err


def test_erase_a_customer_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'erase.db'}"
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,name,email\nC1,Han Meimei,hmm@example.com\n")
    assert main(["--db", db, "db", "upgrade"]) == 0
    assert main(["--db", db, "ingest", "customers", str(customers), "--shop", "s1"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "customers", "erase", "C1", "--shop", "s1", "--format", "json"]) == 0
    [erased] = json.loads(capsys.readouterr().out)
    assert erased["id"].startswith("anon-")
    assert (erased["name"], erased["email"], erased["erased"]) == (None, None, True)
    assert main(["--db", db, "customers", "erase", "C1", "--shop", "s1"]) == 3
    assert "C1" in capsys.readouterr().err
