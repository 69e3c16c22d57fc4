"""Turn revert data into the contract's custom error name and arguments."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from registry.errors import ContractReverted

_BUILTIN = {
    function_signature_to_4byte_selector("Error(string)"): ("Error", ["string"]),
    function_signature_to_4byte_selector("Panic(uint256)"): ("Panic", ["uint256"]),
}


def _canonical_type(param: dict[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


class RevertDecoder:
    """Knows the custom errors of a set of ABIs, keyed by 4-byte selector."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str]]] = dict(_BUILTIN)
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [_canonical_type(p) for p in item["inputs"]]
                selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
                self._errors[selector] = (item["name"], types)

    def decode(self, data: object) -> ContractReverted:
        """Decodes revert data as web3 reports it: hex text, bytes, or `{"data": hex}`."""
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str):
            raw = bytes.fromhex(data.removeprefix("0x"))
        elif isinstance(data, bytes | bytearray):
            raw = bytes(data)
        else:
            raw = b""
        if len(raw) < 4:
            return ContractReverted("UnknownRevert", (), raw)
        known = self._errors.get(raw[:4])
        if known is None:
            return ContractReverted("UnknownRevert", (raw[:4].hex(),), raw)
        name, types = known
        try:
            values = abi_decode(types, raw[4:])
            args = tuple(to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True))
        except Exception:  # malformed payload: keep the name, drop the arguments
            args = ()
        return ContractReverted(name, args, raw)
