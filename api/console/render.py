"""Rendering a console page: the language (same negotiation as the buyer's page: `?lang=`, then a
`tm_lang` cookie the switch sets, then `Accept-Language`), the texts, locale formats, the strict CSP."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader

from api.console.texts import catalog
from registry.pages.catalog import NAMES
from registry.pages.locale import LANGUAGES, negotiate
from registry.staff.sessions import StaffPrincipal

# Scripts and styles only from this origin (vendored libraries included); no inline script or style.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",  # staff pages hold a brand's data: never kept by a shared cache
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
LANG_COOKIE = "tm_lang"

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def language(request: Request) -> str:
    explicit = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return negotiate(request.headers.get("accept-language"), explicit)


class Texts:
    """`t("key")` or `t("key", name=...)` in templates; an unknown key shows itself (a test refuses it)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._texts = catalog(lang)

    def __call__(self, key: str, **values: Any) -> str:
        text = self._texts.get(key, key)
        return text.format(**values) if values else text

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self._babel)

    def when(self, at: datetime, style: str = "medium") -> str:
        return format_datetime(at, style, locale=self._babel)

    @property
    def _babel(self) -> str:
        return "zh_Hans_CN" if self.lang == "zh-CN" else "en"


def render(
    request: Request,
    template: str,
    *,
    principal: StaffPrincipal | None,
    section: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The page `console/<template>` in the request's language, inside the console's frame."""
    lang = language(request)
    page = TEMPLATES.get_template(f"console/{template}").render(
        t=Texts(lang),
        lang=lang,
        languages=[
            {"lang": code, "name": NAMES[code], "href": f"{request.url.path}?lang={code}", "current": code == lang}
            for code in LANGUAGES
        ],
        me=principal,
        section=section,
        **context,
    )
    response = HTMLResponse(page, status_code=status_code, headers=HEADERS)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response
