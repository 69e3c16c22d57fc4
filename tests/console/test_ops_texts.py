"""The Minting, Labels and NFC, and Integrations texts: both languages hold the same keys with the same
placeholders, and every key the pages name (literally, or by the state it ends with) exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

from api.console.texts import catalog, integrations, labels, minting

TEMPLATES = Path(__file__).resolve().parents[2] / "api" / "templates" / "console"
PAGES = ("minting.html", "minting_job.html", "labels.html", "integrations.html")
# Keys built from a value in the templates (`t("minting.state." ~ job.state)`), with every value it takes.
BUILT = {
    "minting.state.": ("accepted", "running", "completed", "failed"),
    "minting.kind.": ("batch", "twin"),
    "integrations.delivery.": ("pending", "delivered", "dead", "cancelled"),
}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    for area in (minting, labels, integrations):
        prefix = area.__name__.rsplit(".", 1)[1] + "."
        assert set(area.EN) == set(area.ZH), area.__name__
        assert all(key.startswith(prefix) for key in area.EN), area.__name__
        for key, text in area.EN.items():
            assert fields(text) == fields(area.ZH[key]), key
            assert area.ZH[key] != text or key.endswith((".gtin", ".title")) or "NFC" in text or "API" in text, key


def test_every_key_the_pages_name_exists_in_both_languages() -> None:
    named = 0
    for lang in ("en", "zh-CN"):
        known = catalog(lang)
        for page in PAGES:
            source = (TEMPLATES / page).read_text()
            for key in re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+[a-z_])["']""", source):
                assert key in known, (page, key)
                named += 1
            for prefix in re.findall(r"""\bt\(\s*["']([a-z_.]+\.)["']\s*~""", source):
                assert all(prefix + value in known for value in BUILT[prefix]), (page, prefix)
    assert named > 200  # the pattern does find the pages' keys
