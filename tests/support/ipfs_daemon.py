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
