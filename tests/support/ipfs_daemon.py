"""A local IPFS daemon that speaks the Kubo RPC API, for integration tests and local trials.

No Kubo binary can be installed here, so this runs js-ipfs (npm package `ipfs`, in
tools/ipfs-daemon) on the project's Node 22, offline: no swarm addresses, no bootstrap peers.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx

from registry.chain.anvil import ROOT, free_port

TOOL = ROOT / "tools" / "ipfs-daemon"
NODE = ROOT / "node_modules" / ".bin" / "node"


class IpfsDaemon:
    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.api_port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _run(self, *args: str) -> subprocess.Popen[bytes]:
        cli = TOOL / "node_modules" / "ipfs" / "src" / "cli.js"
        if not cli.exists():
            raise FileNotFoundError("js-ipfs is not installed: npm ci --prefix tools/ipfs-daemon")
        env = os.environ | {"IPFS_PATH": str(self.repo)}
        return subprocess.Popen([str(NODE), str(cli), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def start(self, timeout: float = 60.0) -> str:
        init = self._run("init", "--empty-repo")
        init.wait(timeout=timeout)
        config_path = self.repo / "config"
        config = json.loads(config_path.read_text())
        config["Addresses"] = {
            "Swarm": [],
            "Announce": [],
            "NoAnnounce": [],
            "API": f"/ip4/127.0.0.1/tcp/{self.api_port}",
            "Gateway": f"/ip4/127.0.0.1/tcp/{free_port()}",
            "RPC": f"/ip4/127.0.0.1/tcp/{free_port()}",
            "Delegates": [],
        }
        config["Bootstrap"] = []
        config["Discovery"] = {"MDNS": {"Enabled": False}, "webRTCStar": {"Enabled": False}}
        config_path.write_text(json.dumps(config))
        self._proc = self._run("daemon", "--offline")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                out = self._proc.stdout.read().decode() if self._proc.stdout else ""
                raise RuntimeError(f"js-ipfs daemon exited: {out[-2000:]}")
            try:
                if httpx.post(f"{self.url}/api/v0/id", timeout=1).status_code == 200:
                    return self.url
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise TimeoutError("js-ipfs daemon did not start")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None


class TrustlessGateway:
    """tools/ipfs-daemon/trustless-gateway.mjs over a daemon: `/ipfs/{cid}?format=raw` served from the
    js-ipfs blockstore (js-ipfs's own gateway has no trustless formats)."""

    def __init__(self, daemon_url: str) -> None:
        self.daemon_url = daemon_url
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> str:
        script = TOOL / "trustless-gateway.mjs"
        self._proc = subprocess.Popen([str(NODE), str(script), self.daemon_url, str(self.port)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.options(f"{self.url}/ipfs/x", timeout=1)
                return self.url
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError("trustless gateway did not start")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None


def copy_dag(source_gateway: str, cid: str, daemon_url: str) -> int:
    """Puts every block of `cid`'s DAG, fetched as a CAR from `source_gateway`, into the daemon with
    `block/put` (so another IPFS node serves the very same blocks); returns how many."""
    from registry.ipfs import car
    from registry.ipfs.cid import RAW

    _, blocks = car.read(httpx.get(f"{source_gateway}/ipfs/{cid}?format=car", timeout=30).content)
    for block_cid, block in blocks:
        codec = "raw" if block_cid.codec == RAW else "dag-pb"
        answer = httpx.post(
            f"{daemon_url}/api/v0/block/put",
            # js-ipfs names the codec `format`; no pin (a recursive pin of a parent put before its
            # children would go looking for them on the network).
            params={"format": codec, "mhtype": "sha2-256", "version": "1"},
            files={"data": ("block", block)},
            timeout=30,
        )
        answer.raise_for_status()
        if answer.json()["Key"] != str(block_cid.v1()):
            raise RuntimeError(f"daemon stored {answer.json()['Key']} for {block_cid}")
    return len(blocks)
