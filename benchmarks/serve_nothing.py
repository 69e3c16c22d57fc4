"""`twinmark serve` with one more route, `GET /bench/nothing`: a brand's key checked exactly as for
`POST /v1/twins` (the same dependency, one key lookup in the database), then nothing. The reference
`bench_mint_single` measures the accept path against, in the same process and run.

    python -m benchmarks.serve_nothing        # instead of `python -m api.cli serve`
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

import api.main
from api.deps import BrandCallerDep

_create_app = api.main.create_app


def create_app(*args: Any, **kwargs: Any) -> FastAPI:
    app = _create_app(*args, **kwargs)

    @app.get("/bench/nothing")
    def nothing(who: BrandCallerDep) -> dict[str, bool]:
        return {"ok": True}

    return app


if __name__ == "__main__":
    api.main.create_app = create_app  # `serve` imports it when it runs
    from api.cli import app

    app(["serve"])
