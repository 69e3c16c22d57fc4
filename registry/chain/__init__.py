"""EVM side of Twinmark (infrastructure: never imports a domain): the node connection and its retries,
the head watcher, the transaction sender, the closed contract facade, log decoding, typed data,
the token-id layout, and a local Anvil node."""
