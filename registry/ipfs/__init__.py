"""IPFS side of Twinmark: content identifiers and stores."""
