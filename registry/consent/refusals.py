"""The problems a consent request can meet, each with its stable problem type."""

from __future__ import annotations

from registry.errors import Conflict, Forbidden, InvalidInput, NotFound


class NoRecipient(NotFound):
    code, title = "consent-no-recipient", "This brand has not stated who receives owners' details"


class NotAnOwner(Conflict):
    code, title = "consent-not-an-owner", "You hold no twin of this brand"


class NoticeChanged(Conflict):
    code, title = "consent-notice-changed", "The notice changed since this message was built"


class ConsentNonce(Conflict):
    code, title = "consent-nonce", "The nonce was not issued for a consent, was used, or has expired"


class ConsentSignature(Forbidden):
    code, title = "consent-signature", "The signature is not the owner's for this message"


class ConsentMessageRefused(InvalidInput):
    code, title = "consent-message", "The message is for another service, chain or time"


class WrongAccount(Forbidden):
    code, title = "consent-wrong-account", "The message is for another account than the one signed in"


class CrossBorderNotNeeded(Conflict):
    code, title = "consent-cross-border-not-needed", "No cross-border consent is needed for this consent"
