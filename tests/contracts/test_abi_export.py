"""The ABI/bytecode exported into the Python package must equal a fresh compile."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from registry.chain import artifacts

ROOT = Path(__file__).resolve().parents[2]


def _exporter():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("export_abi", ROOT / "scripts" / "export_abi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exported_contracts_match_the_fresh_compile() -> None:
    # The test command runs `npm run build` first, so artifacts/ is a fresh compile of contracts/.
    assert _exporter().stale_files() == []


def test_exports_load_and_deploy_code_is_present() -> None:
    for name in ("TwinmarkRegistry", "TwinmarkCollection"):
        art = artifacts.load(name)
        assert art.bytecode.startswith("0x") and len(art.bytecode) > 1000
        assert any(item.get("name") == "supportsInterface" or item.get("type") == "constructor" for item in art.abi)


def test_a_changed_export_is_detected(tmp_path: Path) -> None:
    exporter = _exporter()
    for name, text in exporter.rendered_exports().items():
        (tmp_path / name).write_text(text)
    assert exporter.stale_files(tmp_path) == []
    target = tmp_path / "TwinmarkCollection.json"
    target.write_text(target.read_text().replace('"bytecode": "0x6', '"bytecode": "0x7', 1))
    assert exporter.stale_files(tmp_path) == ["TwinmarkCollection.json"]
