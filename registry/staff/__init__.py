"""Brand staff: people (not API keys) who sign in to the console with passkeys, their roles, sessions and
the audit log of what they did."""
