"""The embedded stack: Anvil started by the service with its state on disk; a restart keeps
every twin verifiable and the contracts are not deployed twice."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from registry.chain.anvil import free_port
from registry.runtime import Runtime
from registry.settings import Settings
from tests.api.conftest import physical


def test_restart_keeps_chain_registry_and_content(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, anvil_port=free_port(), port=free_port())
    runtime = Runtime.start(settings)
    try:
        assert runtime.anvil is not None  # no chain URL configured: the service runs its own node
        with TestClient(create_app(runtime=runtime)) as client:
            token = (tmp_path / "operator-token").read_text()
            r = client.post(
                "/v1/brands", json={"name": "Embedded", "symbol": "EMB"}, headers={"Authorization": f"Bearer {token}"}
            )
            key = {"Authorization": f"Bearer {r.json()['api_key']}"}
            job_id = client.post("/v1/twins", json=physical("E-1"), headers=key).json()["id"]
            for _ in range(200):
                job = client.get(f"/v1/jobs/{job_id}", headers=key).json()
                if job["state"] == "completed":
                    break
                time.sleep(0.05)
            contract, token_id = job["twins"][0]["contract"], job["twins"][0]["token_id"]
            assert client.get(f"/v1/verify/{contract}/{token_id}").json()["authentic"] is True
        registry = runtime.chain.registry.address
    finally:
        runtime.stop()
    assert (tmp_path / "anvil-state.json").exists()
    # The chain state, the database and the operator token are the operator's alone.
    for name in ("anvil-state.json", "twinmark.db", "operator-token"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name

    again = Runtime.start(settings)
    try:
        assert again.chain.registry.address == registry  # remembered, not redeployed
        with TestClient(create_app(runtime=again)) as client:
            verdict = client.get(f"/v1/verify/{contract}/{token_id}").json()
            assert verdict["authentic"] is True, verdict
            assert client.get(f"/v1/twins/{contract}/{token_id}").json()["serial"] == "E-1"
            assert client.get("/v1/brands/me", headers=key).json()["name"] == "Embedded"
    finally:
        again.stop()
