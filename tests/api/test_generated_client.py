"""A client generated from `/openapi.json` by a real generator (`openapi-python-client`, offline) builds
every model and calls the service over real HTTP (uvicorn, Anvil, SQLite): a brand is registered,
a batch minted and followed, the custodian's listing read back typed (owner listings had no typed
answer while three schemas were titled `TwinRef`), and a sign-in nonce taken with no key."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from api.main import create_app
from tests.api.conftest import OPERATOR, Stack, fresh_stack, physical
from tests.support.server import serve

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
# Bodies and answers that are not JSON (CSV batches, QR images, label archives): the generator leaves
# them out with a warning, as it says it does. Anything else it could not build fails the test.
NOT_JSON = ("text/csv", "image/svg+xml", "image/png", "application/zip")
# No post hooks: the generated code is imported as it comes, without running a formatter over it.
CONFIG = "project_name_override: twinmark-client\npackage_name_override: twinmark_client\npost_hooks: []\n"
ARGS = ("--meta", "none", "--output-path", "twinmark_client")


def _load(path: Path, name: str) -> ModuleType:
    sys.path.insert(0, str(path))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(path))


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    work = tmp_path_factory.mktemp("generated")
    (work / "openapi.json").write_text(json.dumps(create_app().openapi()))
    (work / "config.yml").write_text(CONFIG)
    run = subprocess.run(
        [GENERATOR, "generate", "--path", "openapi.json", "--config", "config.yml", *ARGS],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = run.stdout + run.stderr
    for failure in ("Unable to", "Failure to process", "duplicate", "Could not find reference"):
        assert failure not in report, report
    warned = [line for line in report.splitlines() if line.startswith("WARNING")]
    reasons = [line for line in report.splitlines() if "Unsupported content" in line]
    assert len(reasons) == len(warned) and all(any(t in line for t in NOT_JSON) for line in reasons), report
    package = _load(work, "twinmark_client")
    yield package
    for name in [n for n in sys.modules if n == "twinmark_client" or n.startswith("twinmark_client.")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    with (
        fresh_stack(tmp_path_factory.mktemp("generated-stack")) as stack,
        serve(create_app(runtime=stack.runtime)) as url,
    ):
        yield stack, url


def call(gen: ModuleType, operation: str, **kwargs: Any) -> Any:
    """`<tag>.<operation>.sync_detailed(...)` of the generated package."""
    tag, name = operation.split(".")
    return importlib.import_module(f"twinmark_client.api.{tag}.{name}").sync_detailed(**kwargs)


def test_the_generated_client_mints_follows_and_lists_typed(gen: ModuleType, served: tuple[Stack, str]) -> None:
    stack, url = served
    models = importlib.import_module("twinmark_client.models")
    with gen.AuthenticatedClient(base_url=url, token=OPERATOR) as operator:
        made = call(
            gen, "brands.create_brand_v1_brands_post", client=operator, body=models.BrandIn(name="Gen", symbol="GEN")
        )
    assert made.status_code == 201, made.content
    brand = made.parsed
    assert isinstance(brand, models.BrandCreated) and brand.api_key.startswith("tmk_")
    collection = brand.collections[0].address

    with gen.AuthenticatedClient(base_url=url, token=brand.api_key) as client:
        body = models.BatchIn.from_dict({"twins": [physical("GEN-1")]})
        accepted = call(gen, "minting.mint_batch_v1_batches_post", client=client, body=body)
        assert accepted.status_code == 202, accepted.content
        job = accepted.parsed
        deadline = time.monotonic() + 60
        while job.state not in ("completed", "failed") and time.monotonic() < deadline:
            time.sleep(0.05)
            job = call(gen, "jobs.get_job_v1_jobs_job_id_get", client=client, job_id=job.id).parsed
        assert isinstance(job, models.JobOut) and job.state == "completed", job
        token_id = job.twins[0].token_id

        custodian = stack.runtime.chain.signer
        deadline = time.monotonic() + 30
        while True:  # the listing comes from the index, a block or two behind the mint
            page = call(gen, "wardrobe.owner_twins_v1_owners_address_twins_get", client=client, address=custodian)
            assert page.status_code == 200, page.content
            listed = {(item.contract, item.token_id): item for item in page.parsed.items}
            if (collection, token_id) in listed or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert isinstance(page.parsed, models.WardrobePage)
    item = listed[(collection, token_id)]
    assert isinstance(item, models.WardrobeItem) and item.name == "Sac Iconique GEN-1"


def test_the_generated_client_asks_a_sign_in_nonce_with_no_key(gen: ModuleType, served: tuple[Stack, str]) -> None:
    _, url = served
    models = importlib.import_module("twinmark_client.models")
    with gen.Client(base_url=url) as anonymous:
        nonce = call(gen, "players.create_nonce_v1_siwe_nonce_post", client=anonymous)
        assert nonce.status_code == 201, nonce.content
        assert isinstance(nonce.parsed, models.NonceOut) and nonce.parsed.nonce


def test_the_generated_client_reads_a_422_as_the_problem_it_is(gen: ModuleType, served: tuple[Stack, str]) -> None:
    """A compromise start the chain cannot hold (the fuzzer's year 60) is a 422 problem, and the
    document says so: the client parses it (it failed on every 422 while they were documented as
    FastAPI's `HTTPValidationError`)."""
    _, url = served
    models = importlib.import_module("twinmark_client.models")
    with gen.AuthenticatedClient(base_url=url, token=OPERATOR) as operator:
        refused = call(
            gen,
            "brands.compromise_v1_brands_brand_id_compromise_post",
            client=operator,
            brand_id="any",
            body=models.CompromiseIn.from_dict({"since": "0060-09-10T00:33:38Z"}),
        )
    assert refused.status_code == 422, refused.content
    assert isinstance(refused.parsed, models.Problem), refused.parsed
    assert refused.parsed.type_.endswith("/invalid-input") and "since" in refused.parsed.detail
