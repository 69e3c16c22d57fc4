"""A hosted RPC endpoint's URL carries its API key. When the endpoint fails, neither the answer a
client receives nor anything the service logs may contain that key (or the URL)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from registry.chain.anvil import Anvil
from tests.api.conftest import OPERATOR, physical, running_stack, stack_settings
from tests.support.rpc_proxy import RpcProxy

KEY = "alchemy-like-key-7f3a9c2e41d8b6"


@pytest.mark.parametrize("failure", ["error", "drop"])
def test_a_failing_hosted_endpoint_leaks_no_credential(
    failure: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    anvil = Anvil()
    anvil.start()
    with RpcProxy(anvil.url, KEY) as proxy:
        settings = stack_settings(tmp_path, anvil, chain_rpc_url=proxy.url, indexer_in_process=False)
        with running_stack(settings, anvil) as stack:
            headers, _ = stack.new_brand("Hosted House", "HST")
            job = stack.client.post("/v1/twins", json=physical("H-1"), headers=headers).json()
            done = stack.wait_job(headers, job["id"])
            contract, token = done["twins"][0]["contract"], done["twins"][0]["token_id"]

            proxy.mode = failure
            caplog.clear()
            with caplog.at_level(logging.DEBUG):
                answers = [
                    stack.client.get(f"/v1/verify/{contract}/{token + 1}"),  # not cached: reads the chain
                    stack.client.get(f"/v1/twins/{contract}/{token}"),
                    stack.client.get(f"/v1/twins/{contract}/{token}/provenance"),
                    stack.client.get("/readyz"),
                    stack.client.post("/v1/brands", json={"name": "Other", "symbol": "OTH"}, headers=stack.operator),
                ]
            for answer in answers:
                assert answer.status_code == 503, (answer.status_code, answer.text)
                assert answer.json()["type"].endswith("/chain-unavailable")
                assert KEY not in answer.text and "/v2/" not in answer.text
            assert caplog.records, "the failures were logged"
            logged = caplog.text + "".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
            assert KEY not in logged
            assert OPERATOR not in logged
            proxy.mode = "forward"


def test_a_database_url_masks_its_password_not_its_database_name() -> None:
    """The database's name (the URL's path) is no secret: registered, it masked the word "twinmark"
    in every log line ("/tmp[redacted]-pg-..."). The password and the whole URL still are."""
    from registry import redaction
    from registry.settings import Settings

    url = "postgresql+psycopg://svc:s3cret-pass-7@db.internal:5432/twinmark?sslpassword=k3y-material"
    redaction.protect(Settings(database_url=url))
    assert redaction.scrub(f"connecting to {url}") == "connecting to [redacted]"
    assert "s3cret-pass-7" not in redaction.scrub("password s3cret-pass-7 refused")
    assert "k3y-material" not in redaction.scrub("sslpassword=k3y-material")
    assert redaction.scrub("twinmark worker: socket /tmp/twinmark-pg-1/.s.PGSQL") == (
        "twinmark worker: socket /tmp/twinmark-pg-1/.s.PGSQL"
    )
