"""The privileges' refusals, each with a stable problem `type`."""

from __future__ import annotations

from registry.errors import Conflict, Forbidden, NotFound


class PrivilegeNotFound(NotFound):
    code, title = "privilege-not-found", "No such privilege"


class NotEligible(Forbidden):
    code, title = "privilege-not-eligible", "This twin does not qualify for the privilege"


class NotTheOwner(Forbidden):
    code, title = "not-the-owner", "The twin is not this address's"


class NotADelegate(Forbidden):
    code, title = "not-a-delegate", "The vault has not delegated to this address"


class AlreadyRedeemed(Conflict):
    code, title = "privilege-already-redeemed", "This twin already redeemed the privilege"


class SoldOut(Conflict):
    code, title = "privilege-sold-out", "No redemption left"


class NotRedeemable(Conflict):
    code, title = "privilege-not-redeemable", "An ongoing privilege is not redeemed"
