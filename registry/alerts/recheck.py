"""Re-check an exported alert without trusting the service that raised it:

    python -m registry.alerts.recheck alert.json [--chain-rpc URL] [--nfc-key HEX] [--tag-key HEX ...]

HaLo signatures are always re-checked (the chip address is public); NTAG 424 SUN taps with the
brand's AES-128 master key (`--nfc-key`), or their MACs with one tag's file key (`--tag-key`); the
twin's chain facts with any RPC endpoint of its chain (`--chain-rpc`). Prints one line per check;
exit status 0 when none failed, 1 when one did, 2 when the document cannot be read."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from web3 import Web3

from registry.alerts.actions import EXPORT_FORMAT
from registry.alerts.evidence import recheck
from registry.chain.reads import ChainReader


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m registry.alerts.recheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("alert", type=Path, help="the exported alert (GET /v1/alerts/{id}/export)")
    parser.add_argument("--chain-rpc", help="an EVM JSON-RPC URL of the alert's chain: re-reads the chain facts")
    parser.add_argument("--nfc-key", help="the brand's NTAG 424 master key (32 hex digits): re-checks SUN taps")
    parser.add_argument(
        "--tag-key", action="append", default=[], help="one tag's SDMFileRead key (32 hex digits; repeatable): its MACs"
    )
    args = parser.parse_args(argv)
    try:
        doc = json.loads(args.alert.read_text())
        if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
            raise ValueError(f"not a {EXPORT_FORMAT} document")
        master = bytes.fromhex(args.nfc_key.removeprefix("0x")) if args.nfc_key else None
        tag_keys = [bytes.fromhex(k.removeprefix("0x")) for k in args.tag_key]
        if any(len(k) != 16 for k in ([master] if master is not None else []) + tag_keys):
            raise ValueError("NFC keys are AES-128 keys: 32 hex digits")
    except (OSError, ValueError) as exc:
        print(f"cannot re-check: {exc}", file=sys.stderr)
        return 2
    reader, chain_id = None, None
    chain = (doc.get("alert") or {}).get("chain") or {}
    if args.chain_rpc and chain.get("registry"):
        w3 = Web3(Web3.HTTPProvider(args.chain_rpc, request_kwargs={"timeout": 30}))
        reader, chain_id = ChainReader(w3, chain["registry"]), int(w3.eth.chain_id)
    checks = recheck(doc, master=master, reader=reader, chain_id=chain_id, tag_keys=tag_keys)
    for check in checks:
        print(f"{check.outcome.upper():4}  {check.name}: {check.detail}")
    failed = sum(c.outcome == "fail" for c in checks)
    print(f"{len(checks)} checks, {failed} failed, {sum(c.outcome == 'skip' for c in checks)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
