"""The layering holds: `scripts/check_layers.py` finds no upward import, no package pair importing
each other, no module cycle and no breach of the chain facade (also in the benchmarks, which may use
only public modules and never edit `sys.path`); and it does catch them (checked on a planted violation)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import check_layers  # noqa: E402


def test_the_import_graph_has_no_violation() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_layers.py")], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout
    assert "0 violation(s)" in run.stdout


def test_infrastructure_and_domains_sit_where_the_readme_says() -> None:
    _, packages = check_layers.violations()
    for infra in ("registry.db", "registry.chain", "registry.ipfs"):
        assert not {p for p in packages[infra] if check_layers.layer(p) >= 2}, infra
    assert all("registry.runtime" not in targets for p, targets in packages.items() if p != "api")
    assert "registry.runtime" in packages["api"]


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the code for every planted violation (each test plants one file and removes it)."""
    root = tmp_path_factory.mktemp("layers")
    for top in ("registry", "api", "scripts", "benchmarks"):
        shutil.copytree(ROOT / top, root / top, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    assert check_layers.violations(root)[0] == []  # the copy is as clean as the original
    return root


@pytest.mark.parametrize(
    ("where", "source", "expected"),
    [
        ("registry/db/planted.py", "from registry.jobs.models import Job\n", "upward import"),
        ("registry/twins/planted.py", "from registry.jobs import service\n", "packages import each other"),
        ("registry/verify/planted.py", "from fastapi import FastAPI\n", "only api/ speaks HTTP"),
        ("registry/wardrobe/planted.py", "from registry.chain.node import rpc\n", "private to registry.chain"),
        ("api/routes/planted.py", "from registry.chain import sender\n", "private to registry.chain"),
        ("api/routes/planted.py", "def head(rt):\n    return rt.w3.eth.block_number\n", "reads `.w3`"),
        ("registry/wardrobe/planted.py", "from registry.chain.sender_inflight import InFlight\n", "private to"),
        (
            "benchmarks/bench_planted.py",
            "from registry.chain.node import rpc\n",
            "imports registry.chain.node: private",
        ),
        ("scripts/bench_planted.py", "import os\n", "benchmarks live in benchmarks/"),
    ],
)
def test_the_check_catches_a_planted_violation(where: str, source: str, expected: str, clean_copy: Path) -> None:
    planted = clean_copy / where
    planted.write_text(source)
    try:
        problems, _ = check_layers.violations(clean_copy)
    finally:
        planted.unlink()
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from registry.chain import sender\n", "imports registry.chain.sender: private to registry.chain"),
        ("from registry.chain.sender_inflight import InFlight\n", "sender_inflight: private to registry.chain"),
        ("from registry.runtime import _account\n", "imports private names: registry.runtime._account"),
        ("from web3._utils import encoding\n", "imports private names: web3._utils"),
        ("from tests.contracts.chain import Chain\n", "tests.contracts.chain: not a public module it may use"),
        ("import sys\n\nsys.path.insert(0, '.')\n", "bench_planted.py:3 edits sys.path"),
        ("def head(rt):\n    return rt.w3.eth.block_number\n", "bench_planted.py:2 reads `.w3`"),
    ],
)
def test_a_benchmark_uses_only_public_modules(source: str, expected: str, tmp_path: Path) -> None:
    """The benchmark rules alone, on a small tree holding the modules named (fast: no copy of the code)."""
    for module in (
        "registry.chain.sender",
        "registry.chain.sender_inflight",
        "registry.runtime",
        "tests.contracts.chain",
    ):
        path = tmp_path / (module.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    (tmp_path / "benchmarks").mkdir()
    allowed = "from registry.runtime import Runtime\nfrom registry.chain import anvil\n"
    (tmp_path / "benchmarks" / "bench_fine.py").write_text(allowed)
    assert check_layers.benchmark_problems(tmp_path) == []
    (tmp_path / "benchmarks" / "bench_planted.py").write_text(source)
    problems = check_layers.benchmark_problems(tmp_path)
    assert any(expected in p for p in problems), problems
