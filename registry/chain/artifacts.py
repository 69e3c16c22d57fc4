"""ABI and bytecode of the Twinmark contracts, as exported by `scripts/export_abi.py`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


def _from_json(doc: dict[str, Any]) -> Artifact:
    return Artifact(name=doc["contractName"], abi=doc["abi"], bytecode=doc["bytecode"])


@cache
def load(name: str) -> Artifact:
    """A contract exported into this package (`TwinmarkRegistry`, `TwinmarkCollection`, `TwinmarkAccountFactory`,
    `TwinmarkPasskeyAccount`)."""
    text = resources.files("registry.chain").joinpath("abi", f"{name}.json").read_text()
    return _from_json(json.loads(text))


def load_hardhat(path: Path) -> Artifact:
    """A contract straight from a Hardhat artifact (test and benchmark contracts)."""
    return _from_json(json.loads(path.read_text()))
