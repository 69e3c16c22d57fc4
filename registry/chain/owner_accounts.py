"""Passkey owner accounts (contracts/owners/) as the service sees them: their addresses, the challenge a
passkey signs for an action, and relaying the signed action (deploying the account in the same
transaction when it has no code yet, through `TwinmarkRelayHelper`).

Two paths, chosen by a probe of the P-256 precompile at start (`p256_native`):

- "erc1271" (the precompile is there): the collection's own `transferBySig` / `reportStatusBySig`,
  which asks the account (ERC-1271 through ERC-7739) within its 100,000-gas stipend. The passkey
  signs the ERC-7739 `PersonalSign` wrap of the collection's EIP-712 digest.
- "execute" (P-256 in Solidity, over the stipend): the account's own `executeBySig` calling the
  collection (`transferFrom`, `reportStatus`) itself; bounded by the relay gas cap instead. The
  passkey signs the account's `Execute` digest, which carries the account's nonce.

Every relay goes through the `Relayer` like any other: simulated first (a refusal becomes the
domain's client error, a call over the gas cap is refused), sent once, awaited within the relay wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from web3 import Web3
from web3.contract import Contract

from registry.chain import passkeys, typed_data
from registry.chain.deploy import OwnerContracts
from registry.chain.node import RpcError, rpc
from registry.chain.refusals import InvalidSignature
from registry.chain.relay import Relayer, Twin, twin_key
from registry.errors import TwinmarkError

Call = tuple[str, int, bytes]  # (target, value in wei, calldata), one call of an ERC-7579 batch
PasskeyPath = Literal["erc1271", "execute"]

P256_PRECOMPILE = "0x0000000000000000000000000000000000000100"
# OpenZeppelin's P256.sol probe (a Wycheproof vector): hash, r = 5, s = 1, qx, qy; valid.
P256_PROBE = bytes.fromhex(
    "bb5a52f42f9c9261ed4361f59422a1e30036e7c32b270c8807a419feca605023"
    "0000000000000000000000000000000000000000000000000000000000000005"
    "0000000000000000000000000000000000000000000000000000000000000001"
    "a71af64de5126a4a4e02b7922d66ce9415ce88a4c9d25514d91082c8725ac957"
    "5d47723c8fbe580bb369fec9c2665d8e30a435b9932645482e7c9f11e872296b"
)


class PasskeysUnsupported(TwinmarkError):
    """The chain has no deterministic CREATE2 deployer (so no owner-account contracts), or they are
    switched off (`passkey_accounts`): a buyer cannot own with a passkey here."""

    code, status, title = "passkeys-unsupported", 501, "Passkey owner accounts are not available on this chain"


@dataclass(frozen=True)
class PasskeyChallenge:
    """What a passkey signs for one action: `digest` is the WebAuthn challenge (32 bytes). `path` says
    how the action will be relayed; `account_nonce` is the account's nonce the "execute" path signed."""

    path: PasskeyPath
    digest: bytes
    account_nonce: int | None = None


def probe_p256(w3: Web3) -> bool:
    """Whether the chain verifies P-256 natively (EIP-7951 / RIP-7212 at 0x100): one eth_call with a
    valid vector answers 1; without the precompile the call to an empty account answers nothing."""
    try:
        out = str(rpc(w3, "eth_call", [{"to": P256_PRECOMPILE, "data": "0x" + P256_PROBE.hex()}, "latest"]))
    except RpcError:
        return False
    return out == "0x" + (1).to_bytes(32, "big").hex()


class OwnerAccounts:
    """The passkey half of `TwinmarkChain` (which sets `w3`, `relayer` and the helpers below)."""

    w3: Web3
    relayer: Relayer
    passkey_relay_gas_cap: int  # P-256 in Solidity (no precompile) costs more than other relays
    _owners: OwnerContracts | None
    _p256_native: bool | None

    @property
    def chain_id(self) -> int:
        raise NotImplementedError

    def collection(self, address: str) -> Contract:
        raise NotImplementedError

    def call(self, fn: Any) -> Any:
        raise NotImplementedError

    def code_at(self, address: str) -> bytes:
        raise NotImplementedError

    def _contract(self, address: str, name: str) -> Contract:
        raise NotImplementedError

    # ------------------------------------------------------------ what the chain offers

    @property
    def passkeys_supported(self) -> bool:
        """The factory, verifier and relay helper are deployed (at their deterministic addresses)."""
        return self._owners is not None

    @property
    def p256_native(self) -> bool:
        """The chain verifies P-256 natively: owner actions go through the collection's ERC-1271 path."""
        if self._p256_native is None:
            self._p256_native = probe_p256(self.w3)
        return self._p256_native

    @property
    def owner_contracts(self) -> OwnerContracts:
        if self._owners is None:
            raise PasskeysUnsupported(
                "this chain has no deterministic CREATE2 deployer for the passkey account contracts "
                "(or passkey accounts are switched off): own with a wallet address instead"
            )
        return self._owners

    # ------------------------------------------------------------ accounts

    def passkey_account(self, qx: bytes, qy: bytes) -> str:
        """The address of the account whose first signer is the passkey (qx, qy), deployed or not."""
        owners = self.owner_contracts
        return passkeys.predict_account(owners.factory, owners.implementation, qx, qy)

    def account_deployed(self, account: str) -> bool:
        return bool(self.code_at(Web3.to_checksum_address(account)))

    def account_nonce(self, account: str) -> int:
        """The nonce the account's next `executeBySig` must carry (0 before it is deployed)."""
        if not self.account_deployed(account):
            return 0
        return int(self.call(self._account(account).functions.nonces(Web3.to_checksum_address(account))))

    def account_has_signer(self, account: str, qx: bytes, qy: bytes) -> bool:
        """Whether the passkey (qx, qy) may act for `account` now: a current signer once deployed; before,
        only the key the address is made of."""
        if not self.account_deployed(account):
            return self.passkey_account(qx, qy).lower() == account.lower()
        signer = passkeys.passkey_signer(self.owner_contracts.verifier, qx, qy)
        return bool(self.call(self._account(account).functions.isSigner(signer)))

    # ------------------------------------------------------------ what a passkey signs

    def passkey_transfer_digest(
        self, collection: str, token_id: int, account: str, to: str, nonce: int, deadline: int
    ) -> PasskeyChallenge:
        """The challenge for moving `token_id` from `account` to `to`. `nonce` is the twin's: the
        "erc1271" path signs it; the "execute" path signs the account's own nonce instead (in the
        challenge), which protects against replays the same way."""
        if self.p256_native:
            message = {"to": Web3.to_checksum_address(to), "tokenId": token_id, "nonce": nonce, "deadline": deadline}
            return self._erc1271_challenge("TransferTwin", collection, account, message)
        return self._execute_challenge(account, [self._transfer_call(collection, token_id, account, to)], deadline)

    def passkey_status_digest(
        self, collection: str, token_id: int, account: str, status: int, nonce: int, deadline: int
    ) -> PasskeyChallenge:
        """The challenge for the owner's status report (0 found again, 1 lost, 2 stolen)."""
        if self.p256_native:
            message = {"tokenId": token_id, "status": status, "nonce": nonce, "deadline": deadline}
            return self._erc1271_challenge("ReportStatus", collection, account, message)
        return self._execute_challenge(account, [self._status_call(collection, token_id, status)], deadline)

    def passkey_execute_digest(self, account: str, calls: Sequence[Call], deadline: int) -> PasskeyChallenge:
        """The challenge for a batch the account makes itself (adding or removing a signer)."""
        return self._execute_challenge(account, calls, deadline)

    # ------------------------------------------------------------ relaying what a passkey signed

    def relay_passkey_transfer(
        self,
        collection: str,
        token_id: int,
        account: str,
        qx: bytes,
        qy: bytes,
        to: str,
        nonce: int,
        deadline: int,
        challenge: PasskeyChallenge,
        auth: bytes,
    ) -> str:
        """Relays a passkey-signed transfer (`auth`: the flat WebAuthnAuth over `challenge.digest`);
        the account is deployed in the same transaction when it has no code. Returns the tx hash."""
        to = Web3.to_checksum_address(to)
        signature, deployed = self._signature(account, qx, qy, auth)
        if challenge.path == "erc1271":
            col = Web3.to_checksum_address(collection)
            fn = (
                self.collection(col).functions.transferBySig(to, token_id, nonce, deadline, signature)
                if deployed
                else self._helper().functions.transferBySig(qx, qy, col, to, token_id, nonce, deadline, signature)
            )
            return self.relayer.relay(fn, twin=twin_key(collection, token_id), gas_cap=self.passkey_relay_gas_cap)
        call = self._transfer_call(collection, token_id, account, to)
        return self._relay_execute(account, qx, qy, [call], deadline, challenge, signature, deployed)

    def relay_passkey_status(
        self,
        collection: str,
        token_id: int,
        account: str,
        qx: bytes,
        qy: bytes,
        status: int,
        nonce: int,
        deadline: int,
        challenge: PasskeyChallenge,
        auth: bytes,
    ) -> str:
        """Relays a passkey-signed status report, like `relay_passkey_transfer`."""
        signature, deployed = self._signature(account, qx, qy, auth)
        if challenge.path == "erc1271":
            col = Web3.to_checksum_address(collection)
            args = (token_id, status, nonce, deadline, signature)
            fn = (
                self.collection(col).functions.reportStatusBySig(*args)
                if deployed
                else self._helper().functions.reportStatusBySig(qx, qy, col, *args)
            )
            return self.relayer.relay(fn, twin=twin_key(collection, token_id), gas_cap=self.passkey_relay_gas_cap)
        call = self._status_call(collection, token_id, status)
        return self._relay_execute(account, qx, qy, [call], deadline, challenge, signature, deployed)

    def relay_passkey_execute(
        self,
        account: str,
        qx: bytes,
        qy: bytes,
        calls: Sequence[Call],
        deadline: int,
        challenge: PasskeyChallenge,
        auth: bytes,
    ) -> str:
        """Relays a passkey-signed batch of the account's own calls (device management)."""
        signature, deployed = self._signature(account, qx, qy, auth)
        return self._relay_execute(account, qx, qy, calls, deadline, challenge, signature, deployed)

    # ------------------------------------------------------------ calls an account makes

    def add_signer_call(self, account: str, qx: bytes, qy: bytes) -> Call:
        """The account's call adding the passkey (qx, qy) as a signer."""
        signer = passkeys.passkey_signer(self.owner_contracts.verifier, qx, qy)
        return self._self_call(account, "addSigners", [signer])

    def remove_signer_call(self, account: str, qx: bytes, qy: bytes) -> Call:
        """The account's call removing the passkey (qx, qy); the account refuses to remove its last."""
        signer = passkeys.passkey_signer(self.owner_contracts.verifier, qx, qy)
        return self._self_call(account, "removeSigners", [signer])

    # ------------------------------------------------------------ internals

    def _account(self, account: str) -> Contract:
        return self._contract(account, "TwinmarkPasskeyAccount")

    def _helper(self) -> Contract:
        return self._contract(self.owner_contracts.helper, "TwinmarkRelayHelper")

    def _self_call(self, account: str, fn: str, *args: Any) -> Call:
        data = getattr(self._account(account).functions, fn)(*args)._encode_transaction_data()
        return (Web3.to_checksum_address(account), 0, bytes.fromhex(data.removeprefix("0x")))

    def _transfer_call(self, collection: str, token_id: int, account: str, to: str) -> Call:
        col = self.collection(Web3.to_checksum_address(collection))
        owner, to = Web3.to_checksum_address(account), Web3.to_checksum_address(to)
        data = col.functions.transferFrom(owner, to, token_id)._encode_transaction_data()
        return (col.address, 0, bytes.fromhex(data.removeprefix("0x")))

    def _status_call(self, collection: str, token_id: int, status: int) -> Call:
        col = self.collection(Web3.to_checksum_address(collection))
        data = col.functions.reportStatus(token_id, status)._encode_transaction_data()
        return (col.address, 0, bytes.fromhex(data.removeprefix("0x")))

    def _erc1271_challenge(
        self, primary: str, collection: str, account: str, message: dict[str, Any]
    ) -> PasskeyChallenge:
        self.owner_contracts  # noqa: B018 - refuses at once where passkeys are unsupported
        payload = typed_data.typed_data(primary, self.chain_id, Web3.to_checksum_address(collection), message)
        account = Web3.to_checksum_address(account)
        wrapped = passkeys.personal_sign_wrap(typed_data.digest(payload), self.chain_id, account)
        return PasskeyChallenge("erc1271", wrapped)

    def _execute_challenge(self, account: str, calls: Sequence[Call], deadline: int) -> PasskeyChallenge:
        self.owner_contracts  # noqa: B018 - refuses at once where passkeys are unsupported
        account = Web3.to_checksum_address(account)
        nonce = self.account_nonce(account)
        digest = passkeys.execute_digest(
            self.chain_id, account, passkeys.BATCH_MODE, passkeys.batch(calls), nonce, deadline
        )
        return PasskeyChallenge("execute", digest, nonce)

    def _signature(self, account: str, qx: bytes, qy: bytes, auth: bytes) -> tuple[bytes, bool]:
        """The account's signature envelope for the passkey (qx, qy), and whether the account has code.
        An account without code has one signer, the key its address is made of: any other is refused
        here, before the helper would deploy an account the signature is not for."""
        deployed = self.account_deployed(account)
        if not deployed and self.passkey_account(qx, qy).lower() != account.lower():
            raise InvalidSignature(
                "the passkey is not the one this account was created with, and the account is not deployed",
                error="PasskeyNotAccountKey",
            )
        signer = passkeys.passkey_signer(self.owner_contracts.verifier, qx, qy)
        return passkeys.multisig([signer], [auth]), deployed

    def _relay_execute(
        self,
        account: str,
        qx: bytes,
        qy: bytes,
        calls: Sequence[Call],
        deadline: int,
        challenge: PasskeyChallenge,
        signature: bytes,
        deployed: bool,
    ) -> str:
        if challenge.account_nonce is None:
            raise InvalidSignature("an execute challenge carries the account nonce it was made with")
        data = passkeys.batch(calls)
        mode, nonce = passkeys.BATCH_MODE, challenge.account_nonce
        fn = (
            self._account(account).functions.executeBySig(mode, data, nonce, deadline, signature)
            if deployed
            else self._helper().functions.executeBySig(qx, qy, mode, data, nonce, deadline, signature)
        )
        # One relay per account at a time: a second batch would carry the same nonce and revert on chain.
        return self.relayer.relay(fn, twin=_account_key(account), gas_cap=self.passkey_relay_gas_cap)


def _account_key(account: str) -> Twin:
    """The relayer's in-flight key for an account's own batches (no twin has a negative id)."""
    return account.lower(), -1
