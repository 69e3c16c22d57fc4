"""Owners who sign with a passkey: their credentials, ceremonies and what they sign on chain."""
