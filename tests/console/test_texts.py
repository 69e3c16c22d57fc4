"""The console's texts: every key a console template asks for with a literal `t("...")` exists in
English, and every English key of every area has a Chinese text (a gap would show English on a
Chinese page), with the same `{placeholders}`."""

from __future__ import annotations

import re
from pathlib import Path
from string import Formatter

from api.console.texts import AREAS, catalog

TEMPLATES = Path(__file__).resolve().parents[2] / "api" / "templates" / "console"
# `t("key")` or `t("key", name=...)`; `t("prefix." ~ value)` builds a key (checked by prefix and below).
LITERAL_KEY = re.compile(r"""\bt\(\s*(["'])([a-z0-9_.\-]+)\1\s*([,)~])""")


def _used_keys() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for template in sorted(TEMPLATES.rglob("*.html")):
        for _, key, after in LITERAL_KEY.findall(template.read_text()):
            used.setdefault(key + ("*" if after == "~" else ""), set()).add(template.name)
    return used


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}


def test_every_key_a_template_uses_exists_in_english() -> None:
    used = _used_keys()
    assert len(used) > 50  # the pattern really finds the templates' keys
    english = catalog("en")
    missing = {
        key: sorted(where)
        for key, where in used.items()
        if (key not in english if not key.endswith("*") else not any(k.startswith(key[:-1]) for k in english))
    }
    assert missing == {}


def test_every_english_text_has_a_chinese_one_with_the_same_placeholders() -> None:
    for area in AREAS:
        assert set(area.EN) == set(area.ZH), (
            area.__name__,
            sorted(set(area.EN) - set(area.ZH)),
            sorted(set(area.ZH) - set(area.EN)),
        )
        for key, text in area.EN.items():
            assert _fields(text) == _fields(area.ZH[key]), (area.__name__, key)


def test_keys_belong_to_their_area() -> None:
    for area in AREAS:
        prefix = area.__name__.rsplit(".", 1)[1] + "."
        assert all(key.startswith(prefix) for key in area.EN), area.__name__


def test_dynamic_keys_the_pages_build_exist() -> None:
    """Keys built in templates from values (`"alerts.rule." ~ rule`, ...) for every value there is."""
    from registry.alerts.models import STATES
    from registry.alerts.policy import RULES
    from registry.chain.layout import Status
    from registry.dashboard.overview import SERIES
    from registry.dashboard.twins import FIELDS
    from registry.jobs.models import JobState
    from registry.scans.models import ARRIVALS, CHANNELS

    english = catalog("en")
    wanted = (
        [f"alerts.rule.{r}" for r in RULES]
        + [f"alerts.state.{s}" for s in STATES]
        + [f"overview.series.{s}" for s in SERIES]
        + [f"overview.channel.{c}" for c in CHANNELS]
        + [f"twins.arrival.{a}" for a in ARRIVALS]
        + [f"twins.field.{f}" for f in FIELDS]
        + [f"twins.status.{s.name}" for s in Status]
        + [f"overview.job.state.{s}" for s in (JobState.accepted, JobState.running)]
    )
    assert [k for k in wanted if k not in english] == []
