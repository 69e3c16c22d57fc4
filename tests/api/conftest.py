"""A real service stack per test module: its own Anvil, a temp data dir, SQLite or PostgreSQL."""

from __future__ import annotations

import io
import json
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from registry.chain.anvil import Anvil
from registry.runtime import Runtime
from registry.settings import Settings
from tests.conftest import postgres_server  # noqa: F401 - still importable from here (one server all the same)

OPERATOR = "operator-secret-for-tests"
# Anvil dev account #1: the service signer in API tests (account #0 stays free for test actors).
SIGNER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


def _database_url(request: pytest.FixtureRequest, tmp: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp / 'twinmark.db'}"
    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = f"twinmark_{tmp.name.replace('-', '_').lower()}"
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.get_uri(name).replace("postgresql://", "postgresql+psycopg://", 1)


@dataclass
class Stack:
    client: TestClient
    runtime: Runtime
    anvil: Anvil

    @property
    def operator(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {OPERATOR}"}

    def new_brand(self, name: str, symbol: str) -> tuple[dict[str, str], str]:
        r = self.client.post("/v1/brands", json={"name": name, "symbol": symbol}, headers=self.operator)
        assert r.status_code == 201, r.text
        body = r.json()
        return {"Authorization": f"Bearer {body['api_key']}"}, body["collections"][0]["address"]

    def upload(self, headers: dict[str, str], data: bytes, name: str = "file.bin") -> str:
        r = self.client.post("/v1/assets", files={"file": (name, io.BytesIO(data))}, headers=headers)
        assert r.status_code == 201, r.text
        return str(r.json()["cid"])

    def wait_job(self, headers: dict[str, str], job_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.client.get(f"/v1/jobs/{job_id}", headers=headers).json()
            if job["state"] in ("completed", "failed"):
                return dict(job)
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} still {job['state']}")


def stack_settings(tmp: Path, anvil: Anvil, **extra: Any) -> Settings:
    """Settings for a service over `anvil`, with the test signer and operator token."""
    base: dict[str, Any] = {
        "data_dir": tmp,
        "chain_rpc_url": anvil.url,
        "signer_key": SIGNER_KEY,
        "operator_token": OPERATOR,
        "worker_poll_seconds": 0.02,
    }
    return Settings(**(base | extra))


@contextmanager
def running_stack(settings: Settings, anvil: Anvil, **start: Any) -> Iterator[Stack]:
    """Starts the runtime and app; stops both (and the node) afterwards."""
    runtime = Runtime.start(settings, **start)
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            yield Stack(client, runtime, anvil)
    finally:
        runtime.stop()
        anvil.stop()


@contextmanager
def fresh_stack(tmp: Path, *, start: dict[str, Any] | None = None, **extra: Any) -> Iterator[Stack]:
    """A stack over its own new Anvil (settings `extra`, `Runtime.start` options `start`)."""
    anvil = Anvil()
    anvil.start()
    with running_stack(stack_settings(tmp, anvil, **extra), anvil, **(start or {})) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp(f"stack-{request.param}")
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(
        tmp, anvil, database_url=_database_url(request, tmp), max_asset_bytes=200_000, chunk_size=50
    )
    with running_stack(settings, anvil) as running:
        yield running


# ---------------------------------------------------------------- test content


def png(seed: int = 0) -> bytes:
    """A tiny PNG (signature + IHDR-like bytes; the sniffer only needs the signature)."""
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", seed) + b"\x00" * 32


def glb(extra: dict[str, Any] | None = None, *, bin_chunk: bytes = b"\x00" * 8) -> bytes:
    """A structurally valid GLB: JSON chunk (+ BIN chunk), lengths consistent."""
    doc = {"asset": {"version": "2.0", "generator": "twinmark-tests"}, "buffers": [{"byteLength": len(bin_chunk)}]}
    doc.update(extra or {})
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    body = struct.pack("<II", len(js), 0x4E4F534A) + js + struct.pack("<II", len(bin_chunk), 0x004E4942) + bin_chunk
    return b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body


def gtin(body: str) -> str:
    """A valid GTIN-13 from 12 digits."""
    from registry.twins.gs1 import gtin_check_digit

    return body + str(gtin_check_digit(body))


def physical(serial: str, *, image: str | None = None, code: str = "400638133393") -> dict[str, Any]:
    twin: dict[str, Any] = {
        "kind": "physical",
        "name": f"Sac Iconique {serial}",
        "description": "Calfskin top-handle bag",
        "gtin": gtin(code),
        "serial": serial,
        "materials": [{"name": "Calfskin", "percent": 85}, {"name": "Brass", "percent": 15}],
        "origin_country": "FR",
        "manufactured_on": "2026-03-14",
    }
    if image:
        twin["images"] = [image]
    return twin
