"""The `twinmark` command against a real service listening on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from api.cli import app
from api.main import create_app
from registry.chain.anvil import free_port
from tests.api.conftest import Stack


@pytest.fixture(scope="module")
def served(stack: Stack) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime=stack.runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_mint_a_csv_with_progress_then_verify(stack: Stack, served: str, tmp_path: Path) -> None:
    headers, collection = stack.new_brand("CLI House", "CLI")
    key = headers["Authorization"].removeprefix("Bearer ")
    csv_file = tmp_path / "twins.csv"
    csv_file.write_text("name,gtin,serial\n" + "".join(f"Scarf {i},96385074,CLI-{i}\n" for i in range(30)))
    runner = CliRunner()
    result = runner.invoke(app, ["mint", str(csv_file), "--api", served, "--key", key, "--idempotency-key", "cli-1"])
    assert result.exit_code == 0, result.output
    assert "completed, 30/30 twins" in result.output
    twin = stack.client.get("/v1/twins", params={"gtin": "96385074", "serial": "CLI-7"}).json()["twins"][0]
    result = runner.invoke(app, ["verify", twin["contract"], str(twin["token_id"]), "--api", served])
    assert result.exit_code == 0, result.output
    assert "AUTHENTIC" in result.output and "pass metadata_integrity" in result.output
    result = runner.invoke(app, ["verify", collection, "999999", "--api", served])
    assert result.exit_code == 2 and "NOT AUTHENTIC" in result.output and "FAIL token_exists" in result.output


def test_mint_reports_a_refused_csv(stack: Stack, served: str, tmp_path: Path) -> None:
    headers, _ = stack.new_brand("CLI Refused", "CLIR")
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("name,gtin,serial\nScarf,96385075,BAD-1\n")
    result = CliRunner().invoke(app, ["mint", str(csv_file), "--api", served, "--key", headers["Authorization"][7:]])
    assert result.exit_code == 1 and "422" in result.output and "check digit" in result.output
