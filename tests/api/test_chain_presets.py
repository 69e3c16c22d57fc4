"""Chain presets (`TWINMARK_CHAIN`): the service starts on a node of the preset's chain id (an Anvil
started with it), mints with the preset's confirmations and answers; a node on another chain is a
start-up refusal naming both ids; an explicit setting wins over the preset."""

from __future__ import annotations

import time
import typing
from pathlib import Path

import httpx
import pytest
from web3 import Web3

from registry.chain.anvil import Anvil
from registry.errors import ConfigurationError
from registry.presets import PRESETS, ChainName
from registry.runtime import Runtime
from registry.settings import Settings
from tests.api.conftest import physical, running_stack, stack_settings


def _rpc(anvil: Anvil, method: str, *params: object) -> object:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    return httpx.post(anvil.url, json=body, timeout=10).json()["result"]


def test_the_table_names_every_preset_once_with_checksummed_multicall_addresses() -> None:
    assert set(typing.get_args(ChainName)) == set(PRESETS)
    ids = [p.chain_id for p in PRESETS.values()]
    assert len(ids) == len(set(ids))
    assert PRESETS["conflux-espace"].chain_id == 1030 and PRESETS["conflux-espace-testnet"].chain_id == 71
    for p in PRESETS.values():
        assert Web3.is_checksum_address(p.multicall_address), p.name
    # Conflux eSpace is the chain where Multicall3 lives elsewhere.
    assert PRESETS["conflux-espace"].multicall_address != PRESETS["base"].multicall_address


@pytest.mark.parametrize("name", ["conflux-espace-testnet", "base-sepolia", "polygon-amoy"])
def test_the_service_mints_on_a_node_of_the_presets_chain(tmp_path: Path, name: ChainName) -> None:
    chosen = PRESETS[name]
    anvil = Anvil(chain_id=chosen.chain_id)
    anvil.start()
    settings = stack_settings(tmp_path, anvil, chain=name)
    assert (settings.chain_id, settings.confirmations, settings.log_span, settings.max_fee_gwei) == (
        chosen.chain_id,
        chosen.confirmations,
        chosen.log_span,
        chosen.max_fee_gwei,
    )
    with running_stack(settings, anvil) as stack:
        assert stack.runtime.chain.chain_id == chosen.chain_id
        assert (tmp_path / f"deployment-{chosen.chain_id}.json").exists()
        headers, _ = stack.new_brand(f"Maison {name}", "MP")
        r = stack.client.post("/v1/twins", json=physical("PRESET-1"), headers=headers)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        # Mined at once (automine), but recorded only `confirmations` blocks later.
        deadline = time.monotonic() + 30
        while stack.client.get(f"/v1/jobs/{job_id}", headers=headers).json()["batches"][0]["state"] != "sent":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        assert stack.client.get(f"/v1/jobs/{job_id}", headers=headers).json()["state"] != "completed"
        _rpc(anvil, "anvil_mine", hex(chosen.confirmations))
        job = stack.wait_job(headers, job_id)
        assert job["state"] == "completed", job
        twin = job["twins"][0]
        verdict = stack.client.get(f"/v1/verify/{twin['contract']}/{twin['token_id']}").json()
        assert verdict["authentic"] is True, verdict


def test_a_node_on_another_chain_refuses_to_start_naming_both_ids(tmp_path: Path) -> None:
    with Anvil() as anvil:  # 31337
        settings = stack_settings(tmp_path, anvil, chain="base")
        with pytest.raises(ConfigurationError) as refused:
            Runtime.start(settings)
    assert "reports chain id 31337" in refused.value.detail
    assert "TWINMARK_CHAIN=base expects 8453" in refused.value.detail
    assert not (tmp_path / "deployment-31337.json").exists()  # nothing deployed on the wrong chain


def test_an_explicit_setting_wins_over_the_preset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINMARK_CHAIN", "conflux-espace")
    monkeypatch.setenv("TWINMARK_CONFIRMATIONS", "0")
    monkeypatch.setenv("TWINMARK_LOG_SPAN", "123")
    monkeypatch.setenv("TWINMARK_CHAIN_ID", "31337")
    from_env = Settings()
    assert (from_env.confirmations, from_env.log_span, from_env.chain_id) == (0, 123, 31337)
    assert from_env.max_fee_gwei == PRESETS["conflux-espace"].max_fee_gwei  # not overridden: the preset's
    assert from_env.multicall_address == "0xEFf0078910f638cd81996cc117bccD3eDf2B072F"
    monkeypatch.setenv("TWINMARK_MULTICALL_ADDRESS", "0x" + "ab" * 20)
    assert Settings().multicall_address == "0x" + "ab" * 20
    monkeypatch.setenv("TWINMARK_MULTICALL_ADDRESS", "0x1234")
    with pytest.raises(ValueError, match="20-byte hex address"):
        Settings()
    monkeypatch.delenv("TWINMARK_MULTICALL_ADDRESS")
    # The overridden chain id is what the node is held to: a default Anvil (31337) starts.
    anvil = Anvil()
    anvil.start()
    settings = stack_settings(tmp_path, anvil, chain="conflux-espace", chain_id=31337, confirmations=0)
    with running_stack(settings, anvil) as stack:
        assert stack.runtime.chain.chain_id == 31337
        assert stack.client.get("/readyz").status_code in (200, 503)  # it answers
        headers, _ = stack.new_brand("Maison Override", "MO")
        r = stack.client.post("/v1/twins", json=physical("OVERRIDE-1"), headers=headers)
        assert stack.wait_job(headers, r.json()["id"])["state"] == "completed"
    with Anvil(chain_id=1030) as other:
        wrong = stack_settings(tmp_path / "b", other, chain="conflux-espace", chain_id=31337)
        with pytest.raises(ConfigurationError, match="TWINMARK_CHAIN_ID says 31337 \\(overriding TWINMARK_CHAIN="):
            Runtime.start(wrong)
