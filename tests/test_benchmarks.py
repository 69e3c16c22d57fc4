"""The benchmarks stay runnable between measurements: every module of `benchmarks/` imports (the names
it uses of the service still exist), and a benchmark runs as a module from the checkout's root with
no `sys.path` edit (its `--help` answers)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem != "__init__")


def test_the_benchmarks_are_found() -> None:
    assert {"benchlib", "bench_indexer", "bench_verify", "bench_mint"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_a_benchmark_imports(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    assert Path(module.__file__ or "").parent == ROOT / "benchmarks"


def test_a_benchmark_runs_as_a_module_from_the_checkout() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_indexer", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "--batches" in run.stdout
