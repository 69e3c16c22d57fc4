"""The receipt key: generated once into the data dir (owner-only), the same on every load, never the
signer's or the operator's key, never in a log line; and a receipt's signature binds every field."""

from __future__ import annotations

import logging
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account

from registry import redaction
from registry.errors import ConfigurationError
from registry.privileges.receipts import ForgedReceipt, Receipt, receipt_account, sign, verify
from registry.settings import Settings

RECEIPT = Receipt(
    chain_id=31337,
    privilege_id=7,
    collection="0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB",  # EIP-55, as receipts carry addresses
    token_id=10_001,
    owner=Account.create().address,
    issued_at=1_800_000_000,
    expires_at=1_900_000_000,
    nonce="0x" + "01" * 32,
)


def test_the_key_is_generated_once_owner_only_and_scrubbed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(data_dir=tmp_path)
    account = receipt_account(settings)
    path = tmp_path / "receipt-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert receipt_account(Settings(data_dir=tmp_path)).address == account.address
    redaction.install_log_scrubbing()
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("key %s", path.read_text().strip())
    assert path.read_text().strip() not in caplog.text


def test_threads_loading_the_key_at_once_all_get_the_one_key(tmp_path: Path) -> None:
    """The first redeems of a fresh service come at once: a loader that found the file a first writer
    had just created read it empty and failed (a configuration error answered to a buyer)."""
    for round_ in range(5):
        settings = Settings(data_dir=tmp_path / str(round_))
        start = threading.Barrier(16)

        def load(settings: Settings = settings, start: threading.Barrier = start) -> str:
            start.wait()
            return receipt_account(settings).address

        with ThreadPoolExecutor(16) as pool:
            addresses = list(pool.map(lambda _: load(), range(16)))
        assert len(set(addresses)) == 1
        assert sorted(p.name for p in (tmp_path / str(round_)).iterdir()) == ["receipt-key"]  # no draft left


def test_the_signer_or_operator_key_is_refused_as_receipt_key(tmp_path: Path) -> None:
    key = Account.create().key.hex()
    for field in ("signer_key", "operator_key"):
        with pytest.raises(ConfigurationError):
            receipt_account(Settings(data_dir=tmp_path, receipt_key=key, **{field: key}))
    assert receipt_account(Settings(data_dir=tmp_path, receipt_key=key)).key.hex() == key.removeprefix("0x")


def test_every_field_is_signed(tmp_path: Path) -> None:
    account = Account.create()
    text = sign(account, RECEIPT)
    assert verify(text, account.address) == RECEIPT
    with pytest.raises(ForgedReceipt):
        verify(text, Account.create().address)  # pinned to another key
    signature = text.rsplit(".", 1)[1]
    for changed in (
        replace(RECEIPT, token_id=10_002),
        replace(RECEIPT, expires_at=2_000_000_000),
        replace(RECEIPT, owner=Account.create().address),
        replace(RECEIPT, chain_id=1),
    ):
        forged = sign(Account.create(), changed).rsplit(".", 1)[0] + "." + signature  # another body, the old signature
        with pytest.raises(ForgedReceipt):
            verify(forged, account.address)
