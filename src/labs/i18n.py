"""Translations (gettext catalogs via Babel) and locale-aware formatting.

Catalogs live in ``translations/<lang>/LC_MESSAGES/messages.po`` and are compiled in memory on
first use (no ``.mo`` files: running the app leaves the tree as it was).

Templates share one Jinja environment. Every render picks its language from the ``lang`` variable
in the template context, so nothing global is swapped between concurrent requests::

    install(env)                      # once, when the environment is built
    env.get_template("x.html").render(lang="nl", ...)
    # or, from a Litestar handler:
    Template(template_name="x.html", context={"lang": lang, ...})

In templates: ``{{ _("Log in") }}``, ``{{ _("Hello %(name)s", name=user) }}``,
``{% trans %}...{% endtrans %}``, ``{{ ngettext("%(num)d note", "%(num)d notes", n) }}``,
``{{ when|datetime }}``, ``{{ when|date("long") }}``, ``{{ when|time("short") }}``.
From Python: ``gettext(lang, "Saved")``, ``ngettext(lang, "%(num)d note", "%(num)d notes", n)``.
Mark module-level strings with ``N_("...")`` and translate them later with ``gettext(lang, s)``.
"""

from __future__ import annotations

import contextlib
import gettext as _gettext
import io
import os
from contextvars import ContextVar
from datetime import date, datetime, time, tzinfo
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale
from babel import dates as babel_dates
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES: dict[str, str] = {"en": "English", "nl": "Nederlands"}
DEFAULT_LANGUAGE = "en"
DOMAIN = "messages"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"

# Babel locales used for dates and numbers. British English gives day-month order and a 24-hour
# clock, which reads naturally to the mostly European audience.
_BABEL_LOCALES: dict[str, str] = {"en": "en_GB", "nl": "nl_NL"}

# Times are stored in UTC; naive datetimes are taken as UTC and shown in this zone.
DEFAULT_TIMEZONE: tzinfo = ZoneInfo(os.environ.get("LABS_TIMEZONE", "").strip() or "Europe/Amsterdam")

# Language of the template render in progress. Only a fallback for code that runs without the
# render's context (macros imported without ``with context``); set and reset around each render.
_render_lang: ContextVar[str | None] = ContextVar("labs_render_lang", default=None)


# --------------------------------------------------------------------------- language choice


def normalize(lang: str | None) -> str | None:
    """Map a language tag (``nl``, ``nl-BE``, ``en_GB``) to a supported code, or None."""
    if not lang:
        return None
    primary = lang.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else None


def parse_accept_language(header: str | None) -> list[tuple[str, float]]:
    """Language ranges from an Accept-Language header, best first (stable for equal quality)."""
    if not header:
        return []
    ranges: list[tuple[str, float]] = []
    for part in header.split(","):
        tag, _sep, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:
                    quality = 0.0
        ranges.append((tag, quality))
    ranges.sort(key=lambda item: item[1], reverse=True)  # sort is stable
    return ranges


def negotiate(accept_language_header: str | None, preferred: str | None = None) -> str:
    """Pick the UI language: an explicit choice wins, then Accept-Language, then English."""
    if chosen := normalize(preferred):
        return chosen
    for tag, quality in parse_accept_language(accept_language_header):
        if quality <= 0:
            continue
        if tag == "*":
            return DEFAULT_LANGUAGE
        if found := normalize(tag):
            return found
    return DEFAULT_LANGUAGE


# --------------------------------------------------------------------------- catalogs


def _po_path(lang: str) -> Path:
    return TRANSLATIONS_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalog(lang: str) -> bytes | None:
    """The compiled catalog for ``lang`` (None if there is none), built in memory from the ``.po``:
    running the app never writes into the source tree."""
    po_path = _po_path(lang)
    if not po_path.exists():
        return None
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


@cache
def get_translations(lang: str | None) -> _gettext.NullTranslations:
    """The translations for ``lang`` (unsupported codes give English); cached per language."""
    code = normalize(lang) or DEFAULT_LANGUAGE
    data = compile_catalog(code)
    if data is None:
        return _gettext.NullTranslations()
    return Translations(fp=io.BytesIO(data), domain=DOMAIN)


def clear_cache() -> None:
    """Forget loaded catalogs (after editing a .po while the app runs)."""
    get_translations.cache_clear()


# --------------------------------------------------------------------------- python side


def N_(message: str) -> str:
    """Mark a string for extraction without translating it (translate later with gettext)."""
    return message


def gettext(lang: str | None, message: str, **variables: Any) -> str:
    """Translate ``message`` into ``lang``; ``%(name)s`` placeholders are filled from keywords."""
    text = get_translations(lang).gettext(message)
    return text % variables if variables else text


def ngettext(lang: str | None, singular: str, plural: str, num: int, **variables: Any) -> str:
    """Plural-aware translation; ``%(num)d`` is filled with ``num`` unless given."""
    variables.setdefault("num", num)
    return get_translations(lang).ngettext(singular, plural, num) % variables


def pgettext(lang: str | None, context: str, message: str, **variables: Any) -> str:
    """Translation with a disambiguating context (``pgettext(lang, "verb", "Close")``)."""
    text = get_translations(lang).pgettext(context, message)
    return text % variables if variables else text


# --------------------------------------------------------------------------- dates and times


def babel_locale(lang: str | None) -> Locale:
    return Locale.parse(_BABEL_LOCALES[normalize(lang) or DEFAULT_LANGUAGE])


def _aware(dt: datetime, tz: tzinfo | None) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo("UTC"))
    return dt.astimezone(tz or DEFAULT_TIMEZONE)


def format_datetime(dt: datetime | None, lang: str | None, format: str = "medium", tz: tzinfo | None = None) -> str:
    """``dt`` in the local time zone, e.g. ``21 nov 2025, 14:05:00`` (format: short/medium/long/full
    or a Babel pattern). None gives an empty string."""
    if dt is None:
        return ""
    return babel_dates.format_datetime(_aware(dt, tz), format=format, locale=babel_locale(lang))


def format_date(d: date | datetime | None, lang: str | None, format: str = "medium", tz: tzinfo | None = None) -> str:
    """The (local) date of ``d``, e.g. ``21 Nov 2025`` / ``21 nov 2025``."""
    if d is None:
        return ""
    if isinstance(d, datetime):
        d = _aware(d, tz).date()
    return babel_dates.format_date(d, format=format, locale=babel_locale(lang))


def format_time(t: time | datetime | None, lang: str | None, format: str = "short", tz: tzinfo | None = None) -> str:
    """The (local) time of ``t``, e.g. ``14:05``."""
    if t is None:
        return ""
    if isinstance(t, datetime):
        t = _aware(t, tz).timetz().replace(tzinfo=None)
    return babel_dates.format_time(t, format=format, locale=babel_locale(lang))


# --------------------------------------------------------------------------- jinja


def _lang_from_vars(variables: dict[str, Any]) -> str | None:
    """The language a render asks for: ``lang`` in the context, else ``request.state.lang``."""
    if found := normalize(variables.get("lang")):
        return found
    request = variables.get("request")
    state = getattr(request, "state", None) if request is not None else None
    with contextlib.suppress(Exception):
        return normalize(getattr(state, "lang", None))
    return None


def context_lang(context: jinja2.runtime.Context) -> str:
    """The language of the template being rendered."""
    return normalize(context.get("lang")) or _render_lang.get() or DEFAULT_LANGUAGE


@jinja2.pass_context
def _ctx_gettext(context: jinja2.runtime.Context, message: str) -> str:
    return get_translations(context_lang(context)).gettext(message)


@jinja2.pass_context
def _ctx_ngettext(context: jinja2.runtime.Context, singular: str, plural: str, num: int) -> str:
    return get_translations(context_lang(context)).ngettext(singular, plural, num)


@jinja2.pass_context
def _ctx_pgettext(context: jinja2.runtime.Context, ctx: str, message: str) -> str:
    return get_translations(context_lang(context)).pgettext(ctx, message)


@jinja2.pass_context
def _ctx_npgettext(context: jinja2.runtime.Context, ctx: str, singular: str, plural: str, num: int) -> str:
    return get_translations(context_lang(context)).npgettext(ctx, singular, plural, num)


@jinja2.pass_context
def _datetime_filter(context: jinja2.runtime.Context, value: datetime | None, format: str = "medium") -> str:
    return format_datetime(value, context_lang(context), format)


@jinja2.pass_context
def _date_filter(context: jinja2.runtime.Context, value: date | datetime | None, format: str = "medium") -> str:
    return format_date(value, context_lang(context), format)


@jinja2.pass_context
def _time_filter(context: jinja2.runtime.Context, value: time | datetime | None, format: str = "short") -> str:
    return format_time(value, context_lang(context), format)


class LangTemplate(jinja2.Template):
    """Template that makes sure every render has a ``lang`` variable.

    It is taken from the render's ``lang`` (or ``request.state.lang``), defaulting to English,
    and also kept in a context variable for the duration of ``render`` so that macros imported
    without context still translate into the render's language.
    """

    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Any = None,
    ) -> jinja2.runtime.Context:
        if vars is not None and not shared and "lang" not in vars:
            vars = {**vars, "lang": _lang_from_vars(vars) or _render_lang.get() or DEFAULT_LANGUAGE}
        return super().new_context(vars, shared, locals)

    def render(self, *args: Any, **kwargs: Any) -> str:
        variables = dict(*args, **kwargs)
        token = _render_lang.set(_lang_from_vars(variables) or DEFAULT_LANGUAGE)
        try:
            return super().render(variables)
        finally:
            _render_lang.reset(token)

    async def render_async(self, *args: Any, **kwargs: Any) -> str:
        variables = dict(*args, **kwargs)
        token = _render_lang.set(_lang_from_vars(variables) or DEFAULT_LANGUAGE)
        try:
            return await super().render_async(variables)
        finally:
            _render_lang.reset(token)


def install(env: jinja2.Environment) -> jinja2.Environment:
    """Add gettext (newstyle, per-render language), date filters and globals to ``env``.

    Call before the first template is loaded. Adds ``_``/``gettext``/``ngettext``/``pgettext``/
    ``npgettext``, the filters ``datetime``, ``date`` and ``time``, and the global ``LANGUAGES``.
    """
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # collapse whitespace in {% trans %} blocks
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _ctx_gettext, _ctx_ngettext, newstyle=True, pgettext=_ctx_pgettext, npgettext=_ctx_npgettext
    )
    env.filters["datetime"] = _datetime_filter
    env.filters["date"] = _date_filter
    env.filters["time"] = _time_filter
    env.globals["LANGUAGES"] = LANGUAGES
    if env.template_class is jinja2.Template:
        env.template_class = LangTemplate
    elif not issubclass(env.template_class, LangTemplate):
        env.template_class = type("LangTemplate", (LangTemplate, env.template_class), {})
    return env


def make_environment(templates_dir: str | Path, **options: Any) -> jinja2.Environment:
    """A ready environment for ``templates_dir`` (autoescaping on) with :func:`install` applied."""
    options.setdefault("autoescape", jinja2.select_autoescape(default=True, default_for_string=True))
    options.setdefault("loader", jinja2.FileSystemLoader(str(templates_dir)))
    return install(jinja2.Environment(**options))  # noqa: S701 - autoescape is set above
