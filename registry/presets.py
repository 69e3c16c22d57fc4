"""Chain presets: `TWINMARK_CHAIN=<name>` fills in what the service needs to know about a public chain
(its id, how deep a mint must be before it is recorded, how many blocks one `eth_getLogs` may span,
the fee cap, the Multicall3 address). Every value is a default only: the explicit setting
(`TWINMARK_CHAIN_ID`, `TWINMARK_CONFIRMATIONS`, `TWINMARK_LOG_SPAN`, `TWINMARK_MAX_FEE_GWEI`,
`TWINMARK_MULTICALL_ADDRESS`) wins. The node's chain id is checked against it at start.

The figures are starting points an operator can defend, not measurements: confirmations cover the
reorganisations each network has shown (Ethereum rarely past 2 blocks; L2 sequencers do not reorg
their own blocks, but an L1 reorg before the batch posts can; Polygon PoS had reorgs of dozens of
blocks before its milestones), log spans stay under what hosted endpoints commonly accept (a span the
node refuses is halved at run time anyway), and fee caps sit a wide margin above each network's
usual base fee so that only a spike stops broadcasting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# The canonical Multicall3 (mds1/multicall), deployed at the same address on most EVM chains.
MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
# Conflux eSpace mainnet and testnet: Conflux's own "Deployed contracts" page
# (Conflux-Chain/conflux-documentation, docs/espace/build/deployed-contracts.md) lists Multicall3 at
# 0xEFf0078910f638cd81996cc117bccD3eDf2B072F on both (its newer revision says the canonical address
# also holds it on mainnet), and viem's `confluxESpace` chain definition names the same address.
CONFLUX_MULTICALL3 = "0xEFf0078910f638cd81996cc117bccD3eDf2B072F"

ChainName = Literal[
    "ethereum",
    "sepolia",
    "base",
    "base-sepolia",
    "polygon",
    "polygon-amoy",
    "arbitrum-one",
    "arbitrum-sepolia",
    "conflux-espace",
    "conflux-espace-testnet",
]


@dataclass(frozen=True)
class ChainPreset:
    name: str
    chain_id: int
    confirmations: int  # blocks on top of a mint before it is recorded
    log_span: int  # blocks per eth_getLogs
    max_fee_gwei: float  # no transaction offers more per gas
    multicall_address: str


PRESETS: dict[str, ChainPreset] = {
    p.name: p
    for p in (
        ChainPreset("ethereum", 1, 3, 1_000, 200.0, MULTICALL3),
        ChainPreset("sepolia", 11_155_111, 3, 1_000, 200.0, MULTICALL3),
        ChainPreset("base", 8_453, 10, 2_000, 5.0, MULTICALL3),
        ChainPreset("base-sepolia", 84_532, 10, 2_000, 5.0, MULTICALL3),
        ChainPreset("polygon", 137, 32, 1_000, 1_000.0, MULTICALL3),
        ChainPreset("polygon-amoy", 80_002, 16, 1_000, 1_000.0, MULTICALL3),
        ChainPreset("arbitrum-one", 42_161, 20, 5_000, 5.0, MULTICALL3),
        ChainPreset("arbitrum-sepolia", 421_614, 20, 5_000, 5.0, MULTICALL3),
        ChainPreset("conflux-espace", 1_030, 50, 1_000, 200.0, CONFLUX_MULTICALL3),
        ChainPreset("conflux-espace-testnet", 71, 50, 1_000, 200.0, CONFLUX_MULTICALL3),
    )
}

# The settings a preset fills in (each only when the operator did not set it).
PRESET_FIELDS = ("chain_id", "confirmations", "log_span", "max_fee_gwei", "multicall_address")


def preset(name: str) -> ChainPreset:
    """The preset called `name` (a `ChainName`: settings validation refuses any other)."""
    return PRESETS[name]


def chain_id_mismatch(chain: str | None, expected: int, node_id: int, *, embedded: bool) -> str:
    """The start-up refusal when the node is on another chain than configured: both ids, and where
    the expected one came from (the preset, or TWINMARK_CHAIN_ID)."""
    if chain is not None and PRESETS[chain].chain_id == expected:
        source = f"TWINMARK_CHAIN={chain} expects {expected}"
    elif chain is not None:
        source = f"TWINMARK_CHAIN_ID says {expected} (overriding TWINMARK_CHAIN={chain})"
    else:
        source = f"TWINMARK_CHAIN_ID says {expected}"
    if embedded:
        return f"the embedded Anvil reports chain id {node_id}, but {source}: set TWINMARK_CHAIN_RPC_URL"
    return f"the node at TWINMARK_CHAIN_RPC_URL reports chain id {node_id}, but {source}: refusing to start"
