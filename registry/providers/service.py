"""Service providers: their own signing key, authorised on chain in every collection of the brand,
and kept sealed under the provider's API key (so the service can sign only while the provider calls)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlmodel import Session

from registry.auth import keys
from registry.auth.service import Caller, issue_key
from registry.auth.vault import seal, unseal
from registry.brands.models import Brand
from registry.brands.service import collections_of
from registry.chain.client import RelayState, TwinmarkChain
from registry.errors import Conflict, Forbidden
from registry.providers.models import Provider


@dataclass
class NewProvider:
    provider: Provider
    api_key: str
    tx_hashes: list[str]  # its authorisation in each collection of the brand
    state: RelayState  # pending while one of them is not mined


def _salt(provider_id: str) -> str:
    return f"provider:{provider_id}"


def create_provider(session: Session, chain: TwinmarkChain, brand: Brand, name: str) -> NewProvider:
    """A provider with its own signing key, authorised on chain in every collection of the brand."""
    if chain.brand_admin(brand.chain_brand_id) != chain.signer:
        raise Conflict("this brand's on-chain admin is its own key: authorise providers with setServiceProvider")
    account = Account.create()
    provider_id = str(uuid.uuid4())
    key = keys.new_key("tmk")
    # The signing key is sealed under the provider's own API key before either is stored.
    sealed = seal(key.text, _salt(provider_id), bytes(account.key))
    # On chain first, rows after: no database write lock is held while the transactions are mined. The
    # authorisations not mined within the relay wait are pending: the provider exists, and its records
    # are accepted on chain once they are.
    addresses = [collection.address for collection in collections_of(session, brand.id)]
    tx_hashes = chain.set_service_provider(addresses, account.address, True)
    pending = any(chain.relay_state(tx_hash) == "pending" for tx_hash in tx_hashes)
    provider = Provider(id=provider_id, brand_id=brand.id, name=name, address=account.address, sealed_key=sealed)
    session.add(provider)
    session.flush()
    issue_key(session, brand.id, provider_id, key)
    return NewProvider(provider, key.text, tx_hashes, "pending" if pending else "mined")


def calling_provider(session: Session, caller: Caller) -> Provider:
    """The provider whose key is making this request; Forbidden for any other caller."""
    provider = session.get(Provider, caller.provider_id) if caller.provider_id else None
    if provider is None:
        raise Forbidden("a service provider's API key is required")
    return provider


def signing_account(caller: Caller, provider: Provider) -> LocalAccount:
    """The provider's signing key, opened with the key of the provider making this request."""
    account: LocalAccount = Account.from_key(unseal(caller.key, _salt(provider.id), provider.sealed_key))
    return account
