"""The chaos soak (issue 19): the service as separate processes (API, mint worker, indexer with the
webhook sender) on an embedded PostgreSQL, the chain (Anvil, 1 s blocks) behind the chain-conditions
proxy, a mixed client load, and a schedule of faults (SIGKILLs, PostgreSQL stopped hard, RPC fault
windows); at the end the invariants are checked and the figures printed.

- `stack`: the parts and the supervisor that restarts a child that exits;
- `chaos`: the fault schedule and its windows;
- `load`: the clients (mints with idempotency keys and retries, relays, reads) and webhook receivers;
- `checks`: the invariants and the figures table;
- `run`: `soak(minutes, seed)`, what `scripts/soak.py` and `tests/faults/test_soak.py` call.
"""
