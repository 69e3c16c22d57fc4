"""The page's message catalogs, by language (reviewed Python dicts: two languages, a few dozen texts)."""

from __future__ import annotations

from registry.pages import catalog_en, catalog_zh

NAMES = {"en": "English", "zh-CN": "简体中文"}  # each language named in itself, for the switch
_TEXTS = {"en": catalog_en.TEXTS, "zh-CN": catalog_zh.TEXTS}
_CHECKS = {"en": catalog_en.CHECKS, "zh-CN": catalog_zh.CHECKS}


def texts_for(lang: str) -> dict[str, str]:
    return _TEXTS.get(lang, catalog_en.TEXTS)


def checks_for(lang: str) -> dict[str, dict[str, str]]:
    """Per check: `title` (the question it answers), `ok` and `fail` (what each result means)."""
    return _CHECKS.get(lang, catalog_en.CHECKS)
