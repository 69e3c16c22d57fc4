"""Export ABI and bytecode of the deployable contracts into the Python package.

Run after `npm run build`:  python scripts/export_abi.py          (writes registry/chain/abi/)
                            python scripts/export_abi.py --check  (exit 1 when stale)
The service deploys and calls the contracts from these files, so it never needs Node.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "contracts"
TARGET = ROOT / "registry" / "chain" / "abi"
# Contract name -> its source under contracts/ (the owner accounts: the factory and the relay helper
# are deployed, the account's ABI is what the service calls on its clones).
DEPLOYABLE = {
    "TwinmarkRegistry": "TwinmarkRegistry.sol",
    "TwinmarkCollection": "TwinmarkCollection.sol",
    "TwinmarkAccountFactory": "owners/TwinmarkAccountFactory.sol",
    "TwinmarkPasskeyAccount": "owners/TwinmarkPasskeyAccount.sol",
    "TwinmarkRelayHelper": "owners/TwinmarkRelayHelper.sol",
}


def rendered_exports(artifacts: Path = ARTIFACTS) -> dict[str, str]:
    """File name -> exact file text the export writes, from the current Hardhat artifacts."""
    out: dict[str, str] = {}
    for name, source in DEPLOYABLE.items():
        artifact = json.loads((artifacts / source / f"{name}.json").read_text())
        doc = {
            "contractName": name,
            "abi": artifact["abi"],
            "bytecode": artifact["bytecode"],
            "deployedBytecode": artifact["deployedBytecode"],
        }
        out[f"{name}.json"] = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    return out


def stale_files(target: Path = TARGET) -> list[str]:
    """Exported files that differ from (or are missing against) a fresh compile."""
    return [
        name
        for name, text in rendered_exports().items()
        if not (target / name).exists() or (target / name).read_text() != text
    ]


def main() -> int:
    if "--check" in sys.argv[1:]:
        stale = stale_files()
        if stale:
            print(f"stale ABI exports: {', '.join(stale)}; run `python scripts/export_abi.py`")
            return 1
        print("ABI exports match the compiled contracts")
        return 0
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, text in rendered_exports().items():
        (TARGET / name).write_text(text)
        print(f"wrote {TARGET.relative_to(ROOT) / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
