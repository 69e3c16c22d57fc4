"""The EIP-1559 fee policy as arithmetic: what a new transaction offers, the cap it never exceeds, and
how a stuck or dropped one is repriced. (Against a node: tests/chain/test_landing.py.)"""

from __future__ import annotations

import pytest

from registry.chain.fees import GWEI, FeesAboveCap, bump, new_fees, repriced

CAP = 100 * GWEI


def test_a_new_transaction_offers_twice_the_base_fee_plus_the_tip_within_the_cap() -> None:
    assert new_fees(10 * GWEI, 2 * GWEI, CAP) == {"maxFeePerGas": 22 * GWEI, "maxPriorityFeePerGas": 2 * GWEI}
    # Near the cap: the max fee is the cap, and the tip is what is left above the base fee.
    assert new_fees(90 * GWEI, 20 * GWEI, CAP) == {"maxFeePerGas": CAP, "maxPriorityFeePerGas": 10 * GWEI}


def test_nothing_is_offered_while_the_base_fee_alone_is_above_the_cap() -> None:
    with pytest.raises(FeesAboveCap) as err:
        new_fees(CAP + 1, GWEI, CAP)
    assert err.value.status == 503 and "TWINMARK_MAX_FEE_GWEI" in err.value.detail
    assert new_fees(CAP, GWEI, CAP) == {"maxFeePerGas": CAP, "maxPriorityFeePerGas": 0}


def test_bump_is_the_replacement_rule() -> None:
    assert bump(100) == 110 and bump(101) == 112 and bump(0) == 1 and bump(5) == 6


def test_a_replacement_raises_both_fees_by_the_rule_and_to_the_market() -> None:
    # A quiet market: the rule decides.
    assert repriced(22 * GWEI, 2 * GWEI, 10 * GWEI, GWEI, CAP, replacing=True) == (bump(22 * GWEI), bump(2 * GWEI))
    # The market moved: its tip and twice its base fee decide.
    assert repriced(22 * GWEI, 2 * GWEI, 30 * GWEI, 5 * GWEI, CAP, replacing=True) == (65 * GWEI, 5 * GWEI)
    # Capped above the rule: the replacement offers the cap.
    assert repriced(22 * GWEI, 2 * GWEI, 45 * GWEI, 15 * GWEI, CAP, replacing=True) == (CAP, 15 * GWEI)


def test_no_replacement_when_the_rule_would_exceed_the_cap() -> None:
    assert repriced(95 * GWEI, 2 * GWEI, 10 * GWEI, GWEI, CAP, replacing=True) is None
    assert repriced(CAP, 95 * GWEI, 1 * GWEI, GWEI, CAP, replacing=True) is None  # the tip alone would


def test_a_dropped_transaction_is_repriced_to_the_market_without_the_rule() -> None:
    assert repriced(22 * GWEI, 2 * GWEI, 30 * GWEI, GWEI, CAP, replacing=False) == (62 * GWEI, 2 * GWEI)
    # Never lower than it offered, never above the cap, and its tip fits under the max fee.
    assert repriced(22 * GWEI, 2 * GWEI, 5 * GWEI, GWEI, CAP, replacing=False) == (22 * GWEI, 2 * GWEI)
    assert repriced(22 * GWEI, 20 * GWEI, 95 * GWEI, GWEI, CAP, replacing=False) == (CAP, 5 * GWEI)
