"""Column helpers shared by every table module."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware now, the default of every `created_at` / `updated_at` column."""
    return datetime.now(UTC)
