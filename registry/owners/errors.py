"""Owners' passkey problems, each with a stable problem type."""

from __future__ import annotations

from registry.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthenticated


class PasskeyRefused(BadRequest):
    """A registration or a signed action's assertion that py_webauthn (or the key's shape) refused."""

    code, title = "owner-passkey-refused", "The passkey was not accepted"


class SignInRefused(Unauthenticated):
    code, title = "owner-sign-in-refused", "Sign-in refused"


class NotTheOwnersPasskey(Forbidden):
    """The passkey is known, but not as a signer of the account that holds the twin (or no longer one)."""

    code, title = "owner-passkey-not-owner", "This passkey cannot act for the owner"


class NoPasskeyAccount(NotFound):
    """The twin's owner is not a passkey account registered here."""

    code, title = "owner-no-passkey-account", "The owner has no passkey here"


class NoOtherPasskey(Conflict):
    """A device change is signed by another passkey of the account, and it has none (the account keeps
    at least one signer: the chain refuses removing the last)."""

    code, title = "owner-no-other-passkey", "No other passkey of this account can sign this"
