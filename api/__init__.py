"""The HTTP API: thin FastAPI routes over the `registry` domain package."""
