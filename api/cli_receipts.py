"""`twinmark receipt check|sync`: a venue's staff checking owners' receipts, with or without network.

`check` verifies the signature against the pinned receipt address and the venue's journal of uses (a
local file) with no network at all; given `--api` and `--key` it also asks the server (revoked? used
at another venue?) and falls back to the offline verdict when the server cannot be reached. `sync`
uploads the uses the server has not seen and prints the double uses it reports."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from registry.privileges import journal
from registry.privileges.receipts import decode

app = typer.Typer(help="Check owners' receipts at a venue (offline too) and upload the uses.", no_args_is_help=True)
console = Console()
Api = Annotated[str | None, typer.Option("--api", envvar="TWINMARK_API", help="Base URL of the service")]
Key = Annotated[str | None, typer.Option("--key", envvar="TWINMARK_API_KEY", help="The brand's API key")]
Journal = Annotated[
    Path,
    typer.Option("--journal", envvar="TWINMARK_RECEIPT_JOURNAL", help="The venue's journal of uses (a file)"),
]
DEFAULT_JOURNAL = Path.home() / ".twinmark" / "receipt-journal.jsonl"
REFUSED = 2


@app.command()
def check(
    receipt: Annotated[str, typer.Argument(help="The receipt text (what the QR holds)")],
    signer: Annotated[
        str, typer.Option("--signer", envvar="TWINMARK_RECEIPT_SIGNER", help="The pinned receipt address")
    ],
    journal_path: Journal = DEFAULT_JOURNAL,
    venue: Annotated[str, typer.Option(envvar="TWINMARK_VENUE", help="This venue's name")] = socket.gethostname(),
    chain_id: Annotated[int | None, typer.Option(help="Refuse receipts of another chain")] = None,
    api: Api = None,
    key: Key = None,
) -> None:
    """Accept or refuse a receipt: exit 0 accepted (its use recorded), 2 refused."""
    now = int(time.time())
    verdict = journal.check_offline(
        journal_path, receipt, pinned=signer, venue=venue, now=now, chain_id=chain_id, record=False
    )
    if not verdict.ok:
        _refuse(verdict.reason)
    assert verdict.receipt is not None
    if api and key:
        try:
            r = httpx.post(
                f"{api.rstrip('/')}/v1/receipts/check",
                json={"receipt": receipt, "venue": venue},
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            )
        except httpx.TransportError as exc:
            console.print(f"[yellow]offline ({type(exc).__name__}): checked against the pinned key and the journal[/]")
        else:
            if r.status_code != 200:
                console.print(f"[red]{r.status_code}[/] {r.json().get('detail', r.text)}")
                raise typer.Exit(1)
            body = r.json()
            if not body["ok"]:
                _refuse(body["reason"])
            journal.mark_used(journal_path, verdict.receipt, receipt, venue=venue, used_at=now, synced=True)
            _accept(verdict.receipt.privilege_id, verdict.receipt.collection, verdict.receipt.token_id, online=True)
            return
    offline = journal.check_offline(journal_path, receipt, pinned=signer, venue=venue, now=now, chain_id=chain_id)
    if not offline.ok:
        _refuse(offline.reason)  # used meanwhile, at this venue's other terminal
    _accept(verdict.receipt.privilege_id, verdict.receipt.collection, verdict.receipt.token_id, online=False)


def _accept(privilege_id: int, collection: str, token_id: int, *, online: bool) -> None:
    where = "checked online" if online else "recorded in the journal; run `twinmark receipt sync` when online"
    console.print(f"[bold green]ACCEPTED[/] privilege {privilege_id}, twin {token_id} of {collection} ({where})")


def _refuse(reason: str) -> None:
    console.print(f"[bold red]REFUSED[/] {reason}")
    raise typer.Exit(REFUSED)


@app.command()
def sync(api: Api = None, key: Key = None, journal_path: Journal = DEFAULT_JOURNAL) -> None:
    """Upload the journal's uses the server has not seen; print the double uses it finds."""
    if not api or not key:
        console.print("[red]--api and --key are needed to sync[/]")
        raise typer.Exit(64)
    pending = journal.unsynced(journal_path)
    if not pending:
        console.print("nothing to sync")
        return
    body = {"uses": [{"receipt": e.receipt, "venue": e.venue, "used_at": e.used_at} for e in pending]}
    try:
        r = httpx.post(
            f"{api.rstrip('/')}/v1/receipts/uses", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
    except httpx.TransportError as exc:
        console.print(f"[red]still offline ({type(exc).__name__}); the journal keeps the uses[/]")
        raise typer.Exit(1) from None
    if r.status_code != 200:
        console.print(f"[red]{r.status_code}[/] {r.json().get('detail', r.text)}")
        raise typer.Exit(1)
    outcomes = r.json()["uses"]
    done = {
        e.nonce for e, o in zip(pending, outcomes, strict=True) if o["outcome"] in ("first", "double", "already-known")
    }
    journal.mark_synced(journal_path, done)
    doubles = [e for e, o in zip(pending, outcomes, strict=True) if o["outcome"] == "double"]
    for e in doubles:
        receipt, _ = decode(e.receipt)
        console.print(f"[bold red]DOUBLE USE[/] twin {receipt.token_id} of {receipt.collection}: used elsewhere first")
    console.print(f"synced {len(done)} use(s), {len(doubles)} double use(s)")
