"""A whole stack behind real HTTP, as the page, scan log and alert tests use it: a fresh Anvil, the
runtime over SQLite or PostgreSQL, and the app served by uvicorn on a port known before the settings
are made (the page renders its own public URL). Each test module builds its own (xdist runs a module's
tests on one worker, `--dist loadfile`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api.main import create_app
from registry.chain.anvil import Anvil, free_port
from tests.api.conftest import Stack, running_stack, stack_settings
from tests.support.server import serve

# A phone's browser asking for a page, as the scan log sees one.
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
HTML = "text/html,application/xhtml+xml"


@contextmanager
def served_stack(
    tmp: Path, *, as_served: bool = True, proxied: bool = False, public_rpc: bool = False, **extra: Any
) -> Iterator[tuple[Stack, str]]:
    """The stack and its base URL. `as_served`: uvicorn as `twinmark serve` configures it (else plain);
    `proxied`: loopback is the trusted proxy, so tests name the client by `X-Forwarded-For`;
    `public_rpc`: the page's script reads the chain from this Anvil. `extra`: more settings."""
    anvil = Anvil()
    anvil.start()
    port = free_port()
    options: dict[str, Any] = {"public_url": f"http://127.0.0.1:{port}"}
    if proxied:
        options["trusted_proxies"] = "127.0.0.1"
    if public_rpc:
        options["public_rpc_url"] = anvil.url
    settings = stack_settings(tmp, anvil, **(options | extra))
    with (
        running_stack(settings, anvil) as stack,
        serve(create_app(runtime=stack.runtime), port, settings if as_served else None) as url,
    ):
        yield stack, url


def mint(stack: Stack, headers: dict[str, str], twins: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mints `twins` as one batch with the brand key `headers`; the minted twins' records."""
    job = stack.client.post("/v1/batches", json={"twins": twins}, headers=headers).json()
    done = stack.wait_job(headers, job["id"])
    assert done["state"] == "completed", done
    return list(done["twins"])
