"""EVM side of Twinmark: contract artifacts, a local Anvil node, revert decoding, typed data."""
