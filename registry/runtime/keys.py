"""The service's keys and tokens as the settings give them: the signer, the operator, the signer
lanes (a key or an encrypted keystore each), and the operator token. A key that cannot be read is a
configuration error naming only the kind of failure: its message could quote the key."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr

from registry.errors import ConfigurationError
from registry.secret_files import read_or_create
from registry.settings import ANVIL_DEV_KEY, Settings


def _account(key: SecretStr | None, keystore: Path | None, password: SecretStr | None) -> LocalAccount | None:
    try:
        if key is not None:
            account: LocalAccount = Account.from_key(key.get_secret_value())
            return account
        if keystore is not None:
            secret = password.get_secret_value() if password else ""
            account = Account.from_key(Account.decrypt(json.loads(keystore.read_text()), secret))
            return account
    except (ValueError, TypeError, KeyError, OSError) as exc:  # the message may quote the key: its class only
        what = "key" if key is not None else f"keystore {keystore}"
        raise ConfigurationError(f"unusable {what} ({type(exc).__name__})") from None
    return None


def load_operator(settings: Settings) -> LocalAccount | None:
    """The registry owner's key, when it is not the signer's (an encrypted keystore is the way to keep
    it: it is used only for operator actions and can live off the hot path)."""
    return _account(settings.operator_key, settings.operator_keystore, settings.operator_password)


def load_signer(settings: Settings, *, embedded: bool) -> LocalAccount:
    """The service's signer: a key from the environment, an encrypted keystore, or (embedded only) Anvil's."""
    account = _account(settings.signer_key, settings.signer_keystore, settings.signer_password)
    if account is not None:
        return account
    if embedded:
        dev: LocalAccount = Account.from_key(ANVIL_DEV_KEY)
        return dev
    raise ConfigurationError("set TWINMARK_SIGNER_KEY or TWINMARK_SIGNER_KEYSTORE for a non-embedded chain")


def load_lanes(settings: Settings) -> list[LocalAccount]:
    """The signer lanes' keys beside the signer (`signer_lane_keys`, `signer_lane_keystores`)."""
    keys = [_account(key, None, None) for key in settings.signer_lane_keys]
    keys += [_account(None, path, settings.signer_password) for path in settings.signer_lane_keystores]
    return [k for k in keys if k is not None]


def operator_token(settings: Settings) -> str:
    """The operator token: configured, or generated once and kept (mode 0600) in the data dir."""
    if settings.operator_token is not None:
        return settings.operator_token.get_secret_value()
    return read_or_create(settings.data_dir / "operator-token", lambda: secrets.token_urlsafe(32))
