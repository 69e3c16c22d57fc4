"""ASGI entry for process managers: `uvicorn api.asgi:app --workers N` (configuration from the environment).

With several API processes, run the mint worker once (`twinmark worker`) and set
TWINMARK_WORKER_IN_PROCESS=false here; the worker lease keeps a second worker idle anyway.
"""

from api.main import create_app

app = create_app()
