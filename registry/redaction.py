"""Keeps configured credentials out of everything that leaves the process.

Hosted RPC endpoints carry their API key in the URL (`https://host/v2/<key>`), database URLs carry a
password, and the operator token and signer key are secrets. `protect(settings)` registers every such
value; `scrub(text)` replaces them in problem answers, and `install_log_scrubbing()` does the same to
every log record (message, arguments and traceback) before any handler formats it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

from registry.settings import Settings

MASK = "[redacted]"
_MIN_LENGTH = 6  # shorter values (a port, "v2") would mask ordinary text
_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be credentials: the whole URL, user, password, path and query."""
    parts = urlsplit(url)
    found = [url, parts.username or "", parts.password or "", parts.query]
    if parts.path not in ("", "/"):
        found += [parts.path, parts.path.strip("/")]
    return [p for p in found if p]


def register(*values: str | None) -> None:
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= _MIN_LENGTH)


def protect(settings: Settings, *extra: str) -> None:
    """Registers the secrets of `settings` (and `extra` ones, such as a generated operator token)."""
    for url in (settings.chain_rpc_url, settings.ipfs_rpc_url):
        if url:
            register(*url_secrets(url))
    if settings.database_url:
        # A database URL's path is the database's name (often "twinmark"), not a key: masking it would
        # mask the word in every log line. Its password and query (which may carry one) are secrets.
        parts = urlsplit(settings.database_url)
        register(settings.database_url, parts.password, parts.query)
    for secret in (
        settings.operator_token,
        settings.signer_key,
        settings.signer_password,
        settings.operator_key,
        settings.operator_password,
        settings.secret_key,
        settings.metrics_token,
    ):
        if secret is not None:
            register(secret.get_secret_value())
    for provider in settings.pin_providers:
        register(provider.token.get_secret_value())
    register(*extra)


def scrub(text: str) -> str:
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)  # the whole URL before its parts
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(v) for v in value]
    return value


def install_log_scrubbing() -> None:
    """Every log record is rendered and scrubbed when it is made, traceback included (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    make = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def scrubbed(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if not _secrets:
            return record
        record.msg, record.args = scrub(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(scrubbed)
