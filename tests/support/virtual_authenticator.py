"""Chromium's virtual WebAuthn authenticators (CDP), for the console's and the owners' passkey tests:
a browser context whose page has a platform authenticator (CTAP2, internal, resident keys, user
verification) that always answers, so real ES256 assertions are made without a person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Browser, BrowserContext, CDPSession, Page


@dataclass
class Authenticator:
    cdp: CDPSession
    id: str

    def credentials(self) -> list[dict[str, Any]]:
        return list(self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"])

    def add(self, credential: dict[str, Any]) -> None:
        self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.id, "credential": credential})

    def remove(self) -> None:
        """Takes the authenticator away (a phone out of reach); its credentials go with it."""
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.id})


def with_authenticator(
    browser: Browser, *, user_verified: bool = True, **context: Any
) -> tuple[BrowserContext, Page, Authenticator]:
    """A fresh browser context whose page has its own virtual platform authenticator (a phone or laptop
    with a passkey store and a fingerprint reader that says yes, or, `user_verified=False`, one whose
    user is never verified)."""
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    return ctx, page, add_authenticator(cdp, user_verified=user_verified)


def add_authenticator(cdp: CDPSession, *, user_verified: bool = True) -> Authenticator:
    """Another virtual platform authenticator in the page of `cdp` (WebAuthn enabled)."""
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": user_verified,
        "automaticPresenceSimulation": True,
    }
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return Authenticator(cdp, found["authenticatorId"])
