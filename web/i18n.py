"""Pages in English and Chinese: which language a request is answered in, and the catalogues.

The language of a page: the signed-in person's own setting (``users.language``), else the one
this browser picked in the header switcher (a cookie), else the best of the browser's
``Accept-Language`` we have, else English. ``LanguageMiddleware`` decides the last three for
every request; ``web.deps.page_user`` applies the person's setting once it knows who signs in.

Messages are gettext catalogues kept as ``web/locale/<lang>/LC_MESSAGES/messages.po`` (extracted
from the code and templates by ``scripts/translations``) and compiled in memory with Babel when
first used, so no compiled ``.mo`` is committed. The JSON API never calls these: its messages are
a contract and stay English.
"""

from __future__ import annotations

import gettext as gnu
import io
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.form_messages import ENGLISH, Wording
from services.people import LANGUAGES as CODES

DEFAULT = "en"
# Each language in its own words: what the header switcher shows.
LANGUAGES = {"en": "English", "zh": "中文"}
# The value of <html lang>: Chinese is written in simplified characters.
HTML_LANG = {"en": "en", "zh": "zh-Hans"}
LANGUAGE_COOKIE = "oms_lang"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"

assert set(LANGUAGES) == set(CODES), "web.i18n.LANGUAGES and services.people.LANGUAGES name the same languages"


@dataclass
class _Choice:
    """The language of the request in hand; ``web.deps.page_user`` may still replace it by the person's."""

    language: str = DEFAULT


_choice: ContextVar[_Choice | None] = ContextVar("oms_language", default=None)


def language() -> str:
    """The language of the current request ("en" outside one)."""
    choice = _choice.get()
    return choice.language if choice is not None else DEFAULT


def use(code: str | None) -> None:
    """Answer the current request in ``code`` (ignored when it is no language of the pages)."""
    choice = _choice.get()
    if choice is not None and code in LANGUAGES:
        choice.language = code


def supported(code: str | None) -> str | None:
    """``code`` if the pages are written in it, else None."""
    return code if code in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The language of ours the browser prefers most (``zh-CN,zh;q=0.9,en;q=0.8`` -> "zh"), or None.

    Any Chinese (zh, zh-CN, zh-Hans, zh-TW...) gets the simplified Chinese pages.
    """
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")[:30]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else None


def request_language(connection: HTTPConnection) -> str:
    """The language for this browser before anyone signs in: its own choice, its Accept-Language, English."""
    return (
        supported(connection.cookies.get(LANGUAGE_COOKIE))
        or from_accept_language(connection.headers.get("accept-language"))
        or DEFAULT
    )


class LanguageMiddleware:
    """Sets the language of each HTTP request (before the person's own setting is known)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _choice.set(_Choice(request_language(HTTPConnection(scope))))
        try:
            await self.app(scope, receive, send)
        finally:
            _choice.reset(token)


def remember(response: Response, code: str) -> None:
    """Pages for this browser in ``code`` from now on, also when nobody is signed in."""
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=LANGUAGE_COOKIE_SECONDS, samesite="lax", path="/")


# ---- catalogues ---------------------------------------------------------------------


def catalogue_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(code: str) -> gnu.NullTranslations:
    """The compiled catalogue of ``code``; English is the code's own text."""
    path = catalogue_path(code)
    if code == DEFAULT or not path.exists():
        return gnu.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext(message: str, **values: Any) -> str:
    """``message`` in the request's language, its ``%(name)s`` placeholders filled from ``values``."""
    text = translations(language()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    """As ``gettext``, choosing the form for ``n`` (also available as ``%(num)d``)."""
    text = translations(language()).ngettext(singular, plural, n)
    return text % {"num": n, **values}


def form_wording() -> Wording:
    """How form errors are worded on this page: the form's labels in its language, the phrases translated."""
    code = language()
    if code == DEFAULT:
        return ENGLISH
    return Wording(code, translations(code).gettext)


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; ``gettext`` translates it where it is shown."""
    return message


def install(environment: Environment) -> None:
    """Jinja's i18n extension: ``_()``, ``ngettext()`` and ``{% trans %}`` speak the request's language."""
    environment.add_extension("jinja2.ext.i18n")
    environment.policies["ext.i18n.trimmed"] = True
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: translations(language()).gettext(message),
        lambda singular, plural, n: translations(language()).ngettext(singular, plural, n),
        newstyle=True,
    )
    environment.globals.update(
        page_language=language,
        page_languages=LANGUAGES,
        html_lang=lambda: HTML_LANG.get(language(), DEFAULT),
    )
