"""The service's benchmarks: each starts the service the way `twinmark serve` does (the composition
root, `registry.runtime.Runtime`) and measures what users cause. Run from the checkout's root:

    .venv/bin/python -m benchmarks.bench_verify

They import only public modules of `registry` and `api` (and the test suite's chain-conditions proxy);
`scripts/check_layers.py` checks it."""
