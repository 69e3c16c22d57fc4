"""Two mint-worker processes with signer lanes on PostgreSQL: one holds the mint lease (and with it
every lane), the other waits; a SIGKILL of the holder in the middle of a job hands the lease, the
lanes and the job to the other, and every twin is minted exactly once, with no nonce gap left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from sqlmodel import Session, select

from registry.chain.anvil import Anvil
from registry.db.lease import Lease
from registry.jobs.models import Chunk, ChunkState
from registry.jobs.worker import LEASE
from registry.twins.models import Twin
from tests.api.conftest import OPERATOR, SIGNER_KEY, physical, running_stack, stack_settings
from tests.faults.test_relayer_failures import LANE_KEYS, LANE_SETTINGS, LANES

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_of_the_worker_holding_the_lanes(tmp_path: Path, postgres_server: Any) -> None:
    name = f"twinmark_{tmp_path.name.replace('-', '_').lower()}"
    with psycopg.connect(postgres_server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = postgres_server.get_uri(name).replace("postgresql://", "postgresql+psycopg://", 1)
    anvil = Anvil(extra_args=("--block-time", "1"))
    anvil.start()
    settings = stack_settings(tmp_path, anvil, database_url=database, **LANE_SETTINGS)
    with running_stack(settings, anvil, with_worker=False) as stack:
        brands = [stack.new_brand(f"Process House {n}", f"PROC{n}") for n in range(2)]
        job_ids = []
        for n, (brand, _) in enumerate(brands):
            twins = [physical(f"P{n}-{i:03d}", code="590123412345") for i in range(80)]
            r = stack.client.post("/v1/batches", json={"twins": twins}, headers=brand)
            job_ids.append((brand, r.json()["id"]))
        env = (
            os.environ
            | {
                "PYTHONPATH": str(ROOT),
                "TWINMARK_DATA_DIR": str(tmp_path),
                "TWINMARK_CHAIN_RPC_URL": anvil.url,
                "TWINMARK_SIGNER_KEY": SIGNER_KEY,
                "TWINMARK_OPERATOR_TOKEN": OPERATOR,
                "TWINMARK_DATABASE_URL": database,
                "TWINMARK_SIGNER_LANE_KEYS": json.dumps(LANE_KEYS),
            }
            | {f"TWINMARK_{k.upper()}": str(v) for k, v in LANE_SETTINGS.items() if k != "signer_lane_keys"}
        )
        cmd = [sys.executable, "-m", "api.cli", "worker"]
        workers = [
            subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(2)
        ]
        try:
            deadline = time.monotonic() + 60
            while True:
                assert time.monotonic() < deadline, "never reached the middle of the jobs"
                with Session(stack.runtime.engine) as s:
                    seen = Counter(c.state for c in s.exec(select(Chunk)))
                    lease = s.get(Lease, LEASE)
                if seen[ChunkState.recorded] >= 1 and seen[ChunkState.sent] >= 2 and lease is not None:
                    break
                time.sleep(0.02)
            holder = next(w for w in workers if lease.process and lease.process.endswith(f":{w.pid}"))
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait()
            for brand, job_id in job_ids:
                job = stack.wait_job(brand, job_id, timeout=60)
                assert job["state"] == "completed", job
            with Session(stack.runtime.engine) as s:
                lease = s.get(Lease, LEASE)
                twins = s.exec(select(Twin)).all()
            assert lease is not None and not lease.process.endswith(f":{holder.pid}")  # taken over
        finally:
            for w in workers:
                if w.poll() is None:
                    w.send_signal(signal.SIGTERM)
                    w.wait(timeout=20)
        chain = stack.runtime.chain
        for _, address in brands:
            assert chain.collection(address).functions.totalMinted().call() == 80
        assert len(twins) == 160 and len({(t.collection, t.token_id) for t in twins}) == 160
        anvil_pending = [chain.w3.eth.get_transaction_count(a, "pending") for a in LANES]  # type: ignore[arg-type]
        time.sleep(2.5)
        assert anvil_pending == [chain.w3.eth.get_transaction_count(a, "latest") for a in LANES]  # type: ignore[arg-type]
