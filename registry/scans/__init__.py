"""Scan intelligence: every resolver hit, page view, NFC tap and public verification, recorded."""
