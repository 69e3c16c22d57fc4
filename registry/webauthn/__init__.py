"""WebAuthn relying-party parts shared by the console's staff passkeys and owners' passkeys."""
