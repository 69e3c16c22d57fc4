"""What a contract refusal means for the caller: custom error name -> a client error with a stable code."""

from __future__ import annotations

from datetime import UTC, datetime

from registry.errors import Conflict, ContractReverted, Forbidden, InvalidInput, NotFound, TwinmarkError


class TwinStolen(Conflict):
    code, title = "twin-stolen", "The twin is reported stolen"


class AlreadyClaimed(Conflict):
    code, title = "already-claimed", "The twin was already claimed"


class NotClaimable(Conflict):
    code, title = "not-claimable", "The twin cannot be claimed"


class InvalidSignature(Forbidden):
    code, title = "invalid-signature", "The signature does not authorise this"


class StaleNonce(Conflict):
    code, title = "stale-nonce", "The signed nonce is not the current one"


class RelayTooExpensive(InvalidInput):
    code, title = "relay-too-expensive", "The relayed call needs more gas than the service pays"


class ExpiredSignature(InvalidInput):
    code, title = "expired-signature", "The signature's deadline has passed"


class TransactionPending(Conflict):
    """Another relayed transaction for the same twin is broadcast and not yet mined: a second one
    would be simulated against the state before it, and could revert on chain at the service's cost."""

    code, title = "transaction-pending", "A transaction for this twin is pending"


class BrandSuspended(Forbidden):
    code, title = "brand-suspended", "The brand is suspended"


class BrandCompromised(Forbidden):
    code, title = "brand-compromised", "The brand's keys are marked compromised"


class TransferRestricted(Conflict):
    """The collection's transfer policy (gift-only after a holding period, or locked) forbids this
    move now; `movable_from` (ISO 8601 UTC, or null when never) names when it becomes possible."""

    code, title = "transfer-restricted", "The collection's transfer policy does not allow this transfer yet"


class ApprovalsLocked(Conflict):
    code, title = "approvals-locked", "Twins of this collection cannot be approved for transfer"


class PolicyNotStricter(Conflict):
    code, title = "policy-not-stricter", "A transfer policy can only become stricter"


_NEVER = 2**256 - 1


def movable_from_iso(value: int) -> str | None:
    """A collection's `movableFrom` answer as ISO 8601 UTC; None for never, "" for any time."""
    if value >= _NEVER:
        return None
    if value == 0:
        return ""
    return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")


def _transfer_restricted(exc: ContractReverted) -> TwinmarkError:
    when = int(exc.error_args[1]) if len(exc.error_args) > 1 else _NEVER
    iso = movable_from_iso(when)
    if iso is None:
        detail = "the collection is locked: its twins leave the brand's custody by claim only and never move again"
    else:
        detail = f"the collection's policy lets this twin be gifted from {iso[:10]} ({iso})"
    return TransferRestricted(detail, error=exc.name, movable_from=iso)


_BY_NAME: dict[str, tuple[type[TwinmarkError], str]] = {
    "TwinmarkERC721TwinStolen": (TwinStolen, "the twin is reported stolen: it cannot move until the brand recovers it"),
    "TwinmarkCollectionAlreadyClaimed": (AlreadyClaimed, "the twin was already claimed"),
    "TwinmarkCollectionNotClaimable": (NotClaimable, "the twin was minted without a claim secret"),
    "TwinmarkCollectionNotInCustody": (NotClaimable, "the twin has left the brand's custody"),
    "TwinmarkCollectionInvalidClaimProof": (InvalidSignature, "the claim does not match this twin's secret"),
    "TwinmarkCollectionInvalidSignature": (
        InvalidSignature,
        "the signature is not the owner's for this message, chain and contract",
    ),
    "TwinmarkCollectionInvalidNonce": (StaleNonce, "the signature was made for another nonce (replayed or outdated)"),
    "TwinmarkCollectionExpiredSignature": (ExpiredSignature, "the signature's deadline has passed"),
    "TwinmarkCollectionInvalidStatusChange": (Conflict, "that status change is not allowed from the current status"),
    "TwinmarkCollectionUnauthorized": (Forbidden, "the acting account is not authorised by this twin's brand"),
    "TwinmarkCollectionBrandSuspended": (
        BrandSuspended,
        "the operator suspended the brand: it can mint or change twins again once reinstated",
    ),
    "TwinmarkCollectionBrandCompromised": (
        BrandCompromised,
        "the brand's keys are marked compromised: it can mint or change twins again once the compromise is resolved",
    ),
    "TwinmarkCollectionApprovalsLocked": (
        ApprovalsLocked,
        "the collection is locked: approvals could never be used, so none are given",
    ),
    "TwinmarkCollectionPolicyNotStricter": (
        PolicyNotStricter,
        "a collection's transfer policy can only become stricter: buyers bought under the current one",
    ),
    "ERC721NonexistentToken": (NotFound, "the twin does not exist (never minted, or destroyed)"),
    "ERC721InvalidReceiver": (InvalidInput, "the recipient cannot receive the twin"),
    # Passkey owner accounts (contracts/owners/).
    "TwinmarkPasskeyAccountInvalidSignature": (
        InvalidSignature,
        "the signature is not a current signer's for this account, action, nonce and chain",
    ),
    "TwinmarkPasskeyAccountExpiredSignature": (ExpiredSignature, "the signature's deadline has passed"),
    "InvalidAccountNonce": (StaleNonce, "the signature was made for another account nonce (replayed or outdated)"),
    "TwinmarkPasskeyAccountInvalidSigner": (InvalidInput, "a signer must be a P-256 passkey or a wallet address"),
    "TwinmarkPasskeyAccountInvalidKey": (InvalidInput, "the passkey's public key is not a P-256 point"),
    "MultiSignerERC7913AlreadyExists": (Conflict, "that passkey is already a signer of the account"),
    "MultiSignerERC7913NonexistentSigner": (NotFound, "that passkey is not a signer of the account"),
    "MultiSignerERC7913UnreachableThreshold": (
        Conflict,
        "the account's last signer cannot be removed: add another passkey or a wallet first",
    ),
    "AccountUnauthorized": (Forbidden, "only the account itself may do that"),
}


def refusal(exc: ContractReverted) -> TwinmarkError:
    """The client error for a contract refusal; unknown refusals stay ContractReverted (409)."""
    if exc.name == "TwinmarkCollectionTransferRestricted":
        return _transfer_restricted(exc)
    known = _BY_NAME.get(exc.name)
    if known is None:
        return exc
    cls, detail = known
    return cls(detail, error=exc.name)
