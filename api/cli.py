"""`twinmark`: what operators and brands do from a shell."""

from __future__ import annotations

import gc
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api import cli_receipts as receipts_cli
from registry.errors import TwinmarkError
from registry.settings import Settings

if TYPE_CHECKING:
    from registry.runtime import Runtime

app = typer.Typer(help="Twinmark digital product passports.", no_args_is_help=True)
app.add_typer(receipts_cli.app, name="receipt")  # a venue's receipt checks (api/cli_receipts.py)
console = Console()
Api = Annotated[str, typer.Option("--api", envvar="TWINMARK_API", help="Base URL of a running service")]
Key = Annotated[str, typer.Option("--key", envvar="TWINMARK_API_KEY", help="Brand API key")]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
) -> None:
    """Run the service (embedded Anvil, local block store and SQLite unless configured otherwise)."""
    import uvicorn

    from api.main import create_app
    from api.server import uvicorn_config
    from registry.runtime import Runtime

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    runtime = _start(lambda: Runtime.start(settings))
    base = f"http://{settings.host}:{settings.port}"
    # Secrets are never printed: the commands read the token where it lives.
    token = (
        "$TWINMARK_OPERATOR_TOKEN"
        if settings.operator_token is not None
        else f"$(cat {settings.data_dir / 'operator-token'})"
    )
    typer.echo(f"Twinmark listening on {base} (API docs: {base}/docs)")
    typer.echo(
        f"chain {runtime.chain.chain_id}, registry {runtime.chain.registry_address}, data in {settings.data_dir}/"
    )
    typer.echo("Mint a first twin:")
    typer.echo(
        f"  curl -s -X POST {base}/v1/brands -H \"Authorization: Bearer {token}\" -H 'content-type: application/json' \\\n"
        '       -d \'{"name": "Maison Demo", "symbol": "DEMO"}\'            # answer holds api_key\n'
        f"  curl -s -X POST {base}/v1/twins -H 'Authorization: Bearer <api_key>' -H 'content-type: application/json' \\\n"
        '       -d \'{"kind": "physical", "name": "Demo bag", "gtin": "4006381333931", "serial": "SN-0001"}\'\n'
        f"  curl -s {base}/v1/jobs/<job id> -H 'Authorization: Bearer <api_key>'       # contract and token_id\n"
        f"  curl -s {base}/v1/verify/<contract>/<token_id>"
    )
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; turning them into SystemExit lets
    # the runtime stop cleanly (the embedded Anvil writes its state file before exiting).
    signal.signal(signal.SIGTERM, _exit_on_signal)
    # What start-up loaded (web3, ABIs, SQLAlchemy, FastAPI) lives as long as the process: moved out of
    # the collector's view, and collections made rarer, so full collections do not stall requests
    # (they showed as the slowest 1 % of cold verifications).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)
    try:
        # No proxy header handling in uvicorn (the app decides who the client is), a connection cap and
        # backlog, and deadlines and size caps on request heads: api/server.py.
        server = uvicorn.Server(uvicorn_config(create_app(runtime=runtime), settings))
        server.run()
        if not server.started:  # e.g. the port is taken (what uvicorn.run exits with)
            raise SystemExit(3)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _start(start: Callable[[], Runtime]) -> Runtime:
    """Starts the runtime, waiting for a chain node or database that is away (as long as
    TWINMARK_STARTUP_WAIT_SECONDS allows). SIGTERM and Ctrl-C end the wait cleanly; a configuration
    error or a dependency that stayed away is one line on stderr and exit status 1, not a traceback."""
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        return start()
    except TwinmarkError as exc:
        typer.echo(f"twinmark: {exc.code}: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(128 + signal.SIGINT) from None
    except SystemExit as exc:  # SIGTERM during the wait
        raise typer.Exit(exc.code if isinstance(exc.code, int) else 1) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_until_signal(run: Callable[[], None]) -> None:
    """Runs a standalone role until SIGTERM or Ctrl-C, then stops it cleanly (its lease released)."""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        run()
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:
        if exc.code != 128 + signal.SIGTERM:
            raise


def _log_to_stderr() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per webhook delivery


@app.command()
def worker() -> None:
    """Run the mint worker on its own (set TWINMARK_WORKER_IN_PROCESS=false on API processes)."""
    from registry.runtime import Runtime

    _log_to_stderr()
    settings = Settings()
    runtime = _start(lambda: Runtime.start(settings, with_worker=False, with_indexer=False))
    _run_until_signal(runtime.run_worker)


@app.command()
def indexer() -> None:
    """Run the chain indexer and the webhook sender on their own."""
    from registry.runtime import Runtime

    _log_to_stderr()
    settings = Settings()
    runtime = _start(lambda: Runtime.start(settings, with_worker=False, with_indexer=False))
    _run_until_signal(runtime.run_indexer)


@app.command()
def rebuild() -> None:
    """Drop the registry's index and rebuild it from the chain and IPFS alone (stop the service first)."""
    from registry.indexer.rebuild import rebuild as run_rebuild
    from registry.indexer.service import event_count
    from registry.runtime import Runtime

    runtime = Runtime.start(Settings(), with_worker=False, with_indexer=False)
    try:
        started = time.monotonic()
        run_rebuild(runtime.indexer)
        typer.echo(f"rebuilt: {event_count(runtime.engine)} events indexed in {time.monotonic() - started:.1f} s")
    finally:
        runtime.stop()


blocks_app = typer.Typer(help="The local block store.", no_args_is_help=True)
app.add_typer(blocks_app, name="blocks")


@blocks_app.command("migrate")
def blocks_migrate() -> None:
    """Move the block files of the first layout (a file per block) into the block database. Safe to
    run again, and while the service runs; a stopped run resumes where it was."""
    from registry.ipfs.blockstore import migrate

    root = Settings().data_dir / "blocks"
    started = time.monotonic()
    result = migrate(root)
    typer.echo(f"{root}: {result.moved} blocks moved in {time.monotonic() - started:.1f} s")
    for path in result.refused:
        typer.echo(f"left in place, its bytes are not its CID's: {path}", err=True)
    if result.refused:
        raise typer.Exit(1)


@app.command()
def deploy() -> None:
    """Deploy the contracts to the configured chain (or find them) and print their addresses."""
    from registry.runtime import Runtime

    runtime = Runtime.start(Settings(), with_worker=False)
    try:
        console.print_json(
            runtime.deployment_file.read_text()
            if runtime.deployment_file.exists()
            else json.dumps({"registry": runtime.chain.registry_address})
        )
    finally:
        runtime.stop()


@app.command()
def mint(
    csv_file: Annotated[Path, typer.Argument(exists=True, readable=True, help="CSV of physical twins")],
    api: Api = "http://127.0.0.1:8000",
    key: Key = "",
    idempotency_key: Annotated[str | None, typer.Option(help="Makes a retried upload safe")] = None,
) -> None:
    """Mint a batch from a CSV and follow it with a progress bar until every twin is recorded."""
    headers = {"Authorization": f"Bearer {key}", "content-type": "text/csv"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    with httpx.Client(base_url=api, timeout=120) as client:
        r = client.post("/v1/batches", content=csv_file.read_bytes(), headers=headers)
        if r.status_code != 202:
            console.print(f"[red]{r.status_code}[/] {r.json().get('detail', r.text)}")
            raise typer.Exit(1)
        job = r.json()
        columns = (TextColumn("minting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("mint", total=job["counts"]["requested"])
            while job["state"] not in ("completed", "failed"):
                time.sleep(0.5)
                job = client.get(f"/v1/jobs/{job['id']}", params={"limit": 1}, headers=headers).json()
                progress.update(task, completed=job["counts"]["recorded"])
    console.print(f"job {job['id']}: {job['state']}, {job['counts']['recorded']}/{job['counts']['requested']} twins")
    if job["state"] != "completed":
        console.print(f"[red]{job.get('error')}[/]")
        raise typer.Exit(1)


@app.command()
def verify(
    contract: str,
    token_id: int,
    api: Api = "http://127.0.0.1:8000",
    rpc: Annotated[str | None, typer.Option(help="verify without any Twinmark server: an EVM JSON-RPC URL")] = None,
    registry: Annotated[str | None, typer.Option(help="with --rpc: the TwinmarkRegistry address")] = None,
    gateway: Annotated[str | None, typer.Option(help="with --rpc: any trustless IPFS gateway URL")] = None,
    from_block: Annotated[int | None, typer.Option(help="with --rpc: the registry's deployment block")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the whole answer as JSON")] = False,
) -> None:
    """Verify a twin and print each check: through a Twinmark API, or with --rpc/--registry/--gateway
    on your own (chain read through the RPC URL, every content block fetched raw and hashed here)."""
    if rpc is not None:
        if registry is None or gateway is None:
            console.print("[red]--rpc needs --registry and --gateway[/]")
            raise typer.Exit(64)
        from registry.standalone import standalone_verifier

        try:
            verdict = standalone_verifier(rpc, registry, gateway, from_block=from_block).verify(contract, token_id)
            body = verdict.model_dump(mode="json", exclude_unset=True)  # what /v1/verify answers
        except TwinmarkError as exc:
            console.print(f"[red]{exc.code}[/] {exc.detail}")
            raise typer.Exit(1) from None
    else:
        r = httpx.get(f"{api}/v1/verify/{contract}/{token_id}", timeout=30)
        body = r.json()
        if r.status_code != 200:
            console.print(f"[red]{r.status_code}[/] {body.get('detail')}")
            raise typer.Exit(1)
    if as_json:
        print(json.dumps(body, indent=2))
    else:
        for check in body["checks"]:
            mark = "[green]pass[/]" if check["ok"] else "[red]FAIL[/]"
            console.print(f"{mark} {check['name']}: {check['detail']}")
        console.print("[bold green]AUTHENTIC[/]" if body["authentic"] else "[bold red]NOT AUTHENTIC[/]")
    raise typer.Exit(0 if body["authentic"] else 2)


if __name__ == "__main__":
    app()
