"""ASGI entry for process managers (configuration from the environment):

    uvicorn api.asgi:app --workers N --no-proxy-headers --http api.server:HeadTimeoutProtocol \
        --limit-concurrency 1000 --h11-max-incomplete-event-size 16384

as `twinmark serve` runs it (api.server.uvicorn_config): the app reads X-Forwarded-For itself, from
TWINMARK_TRUSTED_PROXIES only; uvicorn's own proxy handling would put a header value in the peer's
place (then such requests share one rate-limit key). The protocol closes connections whose request
head takes longer than TWINMARK_HEADER_TIMEOUT_SECONDS.

With several API processes, run the mint workers as `twinmark worker` processes (on PostgreSQL, as
many as there are signer lanes mint at once) and set TWINMARK_WORKER_IN_PROCESS=false here.
"""

from api.main import create_app

app = create_app()
