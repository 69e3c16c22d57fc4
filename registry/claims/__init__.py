"""Claim secrets shipped with items, the keys derived from them, and their on-chain commitment."""
