"""OpenTelemetry traces: off by default, on with the standard variables (`OTEL_TRACES_EXPORTER=otlp`
or `console`, `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`; `OTEL_SDK_DISABLED=true` wins).
SQLAlchemy and httpx are instrumented here, FastAPI by the app (`api/metrics.py`).

A mint crosses processes through the database: the API stores the request's W3C trace context on
the job row (`carrier()`), and the worker that picks the job up later continues that trace
(`continued(...)`), so one trace shows the request, the job's passes and the transaction."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from sqlalchemy import Engine

log = logging.getLogger(__name__)
tracer = trace.get_tracer("twinmark")
_provider: TracerProvider | None = None
_engines: set[int] = set()


def wanted() -> bool:
    """Whether the environment asks for traces (an exporter named, the SDK not disabled)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    names = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    return names not in ("", "none")


def _exporters() -> list[SpanExporter]:
    found: list[SpanExporter] = []
    for name in os.environ.get("OTEL_TRACES_EXPORTER", "").lower().split(","):
        if name.strip() == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            found.append(OTLPSpanExporter())  # endpoint, headers, timeout: OTEL_EXPORTER_OTLP_*
        elif name.strip() == "console":
            found.append(ConsoleSpanExporter())
        elif name.strip() not in ("", "none"):
            log.warning("OTEL_TRACES_EXPORTER names %r: not supported here (otlp, console)", name.strip())
    return found


def install(provider: TracerProvider | None = None) -> TracerProvider:
    """Installs `provider` (tests: one with an in-memory exporter) or one built from the environment,
    and instruments httpx. Once per process."""
    global _provider
    if _provider is None:
        if provider is None:
            default = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "twinmark"}
            provider = TracerProvider(resource=Resource.create(default))  # reads OTEL_SERVICE_NAME
            for exporter in _exporters():
                provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().instrument()
        _provider = provider
    return _provider


def active() -> bool:
    return _provider is not None


def configure(engine: Engine) -> bool:
    """At a runtime's start: tracing from the environment when asked for, with `engine` instrumented."""
    if _provider is None and not wanted():
        return False
    install()
    if id(engine) not in _engines:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # Its declared range stops below the SQLAlchemy 2.1 the lock pins; the event hooks it uses are
        # unchanged there (tests/metrics/test_mint_trace.py sees the statements' spans).
        SQLAlchemyInstrumentor().instrument(engine=engine, skip_dep_check=True)
        _engines.add(id(engine))
    return True


def shutdown() -> None:
    """Exports what is buffered (a stopping process)."""
    if _provider is not None:
        _provider.force_flush(5_000)


def carrier() -> str | None:
    """The current trace context as JSON (`traceparent`, `tracestate`), None when not tracing."""
    if _provider is None:
        return None
    fields: dict[str, str] = {}
    propagate.inject(fields)
    return json.dumps(fields, separators=(",", ":")) if fields else None


@contextmanager
def continued(stored: str | None, name: str, **attributes: Any) -> Iterator[None]:
    """A span `name` continuing the trace stored with `carrier()` (a new trace when none is)."""
    if _provider is None:
        yield
        return
    try:
        fields = json.loads(stored) if stored else {}
    except ValueError:
        fields = {}
    parent = propagate.extract(fields if isinstance(fields, dict) else {})
    token = context.attach(parent)
    try:
        with tracer.start_as_current_span(name, attributes=attributes):
            yield
    finally:
        context.detach(token)


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[None]:
    """A child span of whatever is current (no cost beyond a check when not tracing)."""
    if _provider is None:
        yield
        return
    with tracer.start_as_current_span(name, attributes=attributes):
        yield
