"""The operator's instruments: Prometheus metric families (`families`), the small functions the
domains record through (`record`), the `/metrics` text (`exposition`) and OpenTelemetry tracing
(`tracing`). Infrastructure: it imports no domain; domains call it (`scripts/check_layers.py`)."""
