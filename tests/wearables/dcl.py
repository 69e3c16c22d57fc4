"""Decentraland's own validators (npm @dcl/schemas), run by Node from the tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "node_modules" / ".bin" / "node"
SCRIPT = Path(__file__).with_name("dcl_validate.mjs")


def dcl_validate(schema: str, doc: Any) -> tuple[bool, list[dict[str, Any]]]:
    """`@dcl/schemas`' `<schema>.validate(doc)`: whether it is valid, and ajv's errors."""
    done = subprocess.run(
        [str(NODE), str(SCRIPT)],
        input=json.dumps({"schema": schema, "doc": doc}).encode(),
        capture_output=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    answer = json.loads(done.stdout)
    return bool(answer["valid"]), list(answer["errors"])


def linked_wearable(metadata: dict[str, Any], mappings: dict[str, Any], urn: str) -> dict[str, Any]:
    """A Decentraland linked (third-party) wearable item around a twin's metadata: the twin's
    `twinmark.wearable` is the item's `data` unchanged, its files the item's `content`."""
    wearable = metadata["twinmark"]["wearable"]
    files = {f: f.removeprefix("ipfs://") for r in wearable["representations"] for f in r["contents"]}
    item = {
        "id": urn,
        "name": metadata["name"],
        "description": metadata["description"],
        "i18n": [{"code": "en", "text": metadata["name"]}],
        "thumbnail": metadata["image"],
        "image": metadata["image"],
        "data": wearable,
        "content": files,
        "mappings": mappings,
    }
    item["merkleProof"] = {"proof": [], "index": 0, "hashingKeys": sorted(item), "entityHash": "0" * 64}
    return item
