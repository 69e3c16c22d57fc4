"""The console's texts in English and Simplified Chinese, one module per area (each owns its keys;
keys are prefixed by the area, e.g. `overview.title`), merged here. A key missing in Chinese falls
back to English, and `tests/console/test_texts.py` refuses any such gap."""

from __future__ import annotations

from api.console.texts import (
    alerts,
    auth,
    common,
    integrations,
    labels,
    minting,
    overview,
    owners,
    privileges,
    security,
    twins,
)

AREAS = (common, auth, security, overview, twins, alerts, minting, labels, integrations, owners, privileges)


def catalog(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for area in AREAS:
        merged.update(area.EN)
        if lang == "zh-CN":
            merged.update(area.ZH)
    return merged
