"""The EIP-1559 fee policy under a cap, as pure arithmetic (the sender reads the market and applies it).

A new transaction offers `maxFeePerGas = 2 * base fee + tip`: it stays includable while the base
fee doubles. Nothing offers more than the cap; while the base fee alone is above the cap nothing is
broadcast (`FeesAboveCap`: a 503 for API callers, a wait for the mint worker). A replacement under
the same nonce raises both fees by at least the nodes' replacement rule (+10%) and to the current
market, within the cap; a transaction sent again after the base fee rose past it is repriced to the
market, also within the cap.
"""

from __future__ import annotations

from registry.errors import ChainUnavailable

GWEI = 10**9


class FeesAboveCap(ChainUnavailable):
    """The network's base fee is above the configured cap: the service waits instead of overpaying."""

    code, status, title = "fees-above-cap", 503, "Network fees above the service's cap"


def gwei(wei: int) -> str:
    return f"{wei / GWEI:.3f}".rstrip("0").rstrip(".")


def bump(fee: int) -> int:
    """At least +10% and at least 1 wei more: what nodes ask of a replacement."""
    return fee + max(1, (fee + 9) // 10)


def above_cap(base: int, cap: int) -> FeesAboveCap:
    return FeesAboveCap(
        f"the network's base fee is {gwei(base)} gwei, above the cap of {gwei(cap)} gwei"
        " (TWINMARK_MAX_FEE_GWEI): waiting for it to come down",
        base_fee_gwei=base / GWEI,
        max_fee_gwei=cap / GWEI,
    )


def new_fees(base: int, tip: int, cap: int) -> dict[str, int]:
    """Fees for a new transaction given the next block's base fee and the suggested tip; raises
    FeesAboveCap while the base fee alone is above the cap."""
    if base > cap:
        raise above_cap(base, cap)
    max_fee = min(2 * base + tip, cap)
    return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": min(tip, max_fee - base)}


def repriced(
    max_fee: int, tip: int, base: int, market_tip: int, cap: int, *, replacing: bool
) -> tuple[int, int] | None:
    """(max fee, tip) of a new version of a transaction that offered (`max_fee`, `tip`), for a base
    fee at most the cap. `replacing`: another version is in the node's pool, so both fees rise by at
    least the replacement rule; None when that would exceed the cap."""
    if replacing:
        new_tip = max(bump(tip), market_tip)
        new_max = min(max(bump(max_fee), 2 * base + new_tip), cap)
        if new_max < bump(max_fee) or new_tip > new_max:
            return None
        return new_max, new_tip
    new_tip = max(tip, market_tip)
    new_max = min(max(max_fee, 2 * base + new_tip), cap)
    return new_max, min(new_tip, new_max - base)
