"""Language negotiation, catalogs and per-render translation in templates."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pytest
from babel.messages.catalog import Message
from babel.messages.pofile import read_po
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labs import i18n
from tests.conftest import PASSWORD, make_account

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("header", "preferred", "expected"),
    [
        (None, None, "en"),
        ("", None, "en"),
        ("nl", None, "nl"),
        ("nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7", None, "nl"),
        ("de-DE,de;q=0.9,nl;q=0.5,en;q=0.4", None, "nl"),
        ("en;q=0.3,nl-BE;q=0.8", None, "nl"),
        ("fr, nl;q=0", None, "en"),
        ("*", None, "en"),
        ("nl;q=bogus, en;q=0.1", None, "en"),
        ("nl", "en", "en"),
        (None, "nl_NL", "nl"),
        ("nl", "xx", "nl"),
    ],
)
def test_negotiate(header: str | None, preferred: str | None, expected: str) -> None:
    assert i18n.negotiate(header, preferred) == expected


def test_dutch_catalog() -> None:
    assert i18n.gettext("nl", "Log out") == "Uitloggen"
    assert i18n.gettext("nl", "Error %(code)s", code=404) == "Fout 404"
    assert i18n.gettext("en", "Log out") == "Log out"
    assert i18n.gettext("xx", "Log out") == "Log out"
    assert i18n.get_translations("nl") is i18n.get_translations("nl")


SHELL_TEMPLATES = ("templates/base.html", "templates/macros/forms.html", "templates/errors/error.html")


def test_shell_strings_have_dutch_translations() -> None:
    with (i18n.TRANSLATIONS_DIR / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    shell = set()
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    for path in SHELL_TEMPLATES:
        for _line, _func, message in env.extract_translations((ROOT / path).read_text(encoding="utf-8")):
            texts = [message] if isinstance(message, str) else [m for m in message if m]
            shell.update(" ".join(t.split()) for t in texts[:1])
    assert len(shell) > 30
    assert [m for m in sorted(shell) if not (catalog.get(m) and catalog.get(m).string)] == []


def _dutch_catalog() -> list[Message]:
    with (i18n.TRANSLATIONS_DIR / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return [m for m in read_po(fh, locale="nl") if m.id]


def _texts(value: object) -> list[str]:
    """msgid or msgstr as a list: one string, or the singular and plural forms."""
    return [str(v or "") for v in value] if isinstance(value, (list, tuple)) else [str(value or "")]


def test_dutch_catalog_is_complete() -> None:
    """Every message has a checked Dutch translation: run `make translations` and translate what is new."""
    messages = _dutch_catalog()
    assert len(messages) > 300
    assert [m.id for m in messages if not all(_texts(m.string))] == []  # untranslated
    assert [m.id for m in messages if m.fuzzy] == []


def test_dutch_translations_keep_placeholders() -> None:
    def placeholders(text: str) -> list[str]:
        return sorted(re.findall(r"%\(\w+\)[sd]", text))

    broken = []
    for m in _dutch_catalog():
        expected = placeholders(_texts(m.id)[-1])  # for plurals: those of the plural msgid
        if any(placeholders(text) != expected for text in _texts(m.string)):
            broken.append(m.id)
    assert broken == []


def test_catalogs_match_the_code() -> None:
    """`scripts/i18n.sh check`: no message in the code or templates is missing from a catalog."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "i18n.sh"), "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_exception_messages_are_in_the_catalog() -> None:
    ids = {m.id for m in _dutch_catalog()}
    assert "No such session." in ids  # raise NotFound("No such session.")
    assert "Wrong email or password." in ids  # raise Unauthorized(WRONG_LOGIN), a module constant
    assert "This email is taken." in ids  # a field-error value: {"email": "This email is taken."}
    assert "lang" not in ids and "message" not in ids  # not the keys of gettext(ctx["lang"], ctx["message"])


async def test_login_page_in_dutch(client: AsyncTestClient[Litestar], rt: Any) -> None:
    account = await make_account(rt)
    page = await client.get("/login", headers={"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"})
    assert page.status_code == 200
    html = page.text
    assert '<html lang="nl">' in html
    assert "<h1>Inloggen</h1>" in html and "Wachtwoord" in html and "E-mailadres" in html
    assert "vul de deelnamecode in" in html
    assert "Password" not in html

    # A service error (raised in English) is shown in Dutch too.
    failed = await client.post(
        "/login",
        data={"email": account.email, "password": PASSWORD + "x", "_csrf_token": client.cookies.get("labs_csrf", "")},
        headers={"Accept-Language": "nl"},
    )
    assert failed.status_code == 401
    assert "Onjuist e-mailadres of wachtwoord." in failed.text


def test_catalogs_compile_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "nl" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    shutil.copy(i18n.TRANSLATIONS_DIR / "nl" / "LC_MESSAGES" / "messages.po", folder / "messages.po")
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    i18n.clear_cache()
    try:
        assert i18n.gettext("nl", "Log in") == "Inloggen"
        assert sorted(p.name for p in folder.iterdir()) == ["messages.po"]  # nothing written
        po = folder / "messages.po"
        po.write_text(po.read_text(encoding="utf-8").replace('"Inloggen"', '"Aanmelden"'), encoding="utf-8")
        i18n.clear_cache()
        assert i18n.gettext("nl", "Log in") == "Aanmelden"
    finally:
        i18n.clear_cache()


def _env() -> jinja2.Environment:
    return i18n.make_environment(ROOT / "templates")


def test_templates_render_per_request_language() -> None:
    env = _env()
    page = env.from_string(
        '{% extends "base.html" %}{% import "macros/forms.html" as forms %}'
        '{% block content %}{{ forms.input("x", "X", required=true) }} {{ when|date("long") }}{% endblock %}'
    )
    when = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    nl = page.render(lang="nl", account=None, when=when)
    en = page.render(lang="en", account=None, when=when)
    assert '<html lang="nl">' in nl and "Naar de inhoud" in nl and "Inloggen" in nl
    assert "(verplicht)" in nl  # macro imported without context follows the page language
    assert "1 maart 2025" in nl
    assert '<html lang="en">' in en and "Skip to content" in en and "(required)" in en
    assert "1 March 2025" in en


def test_nav_depends_on_role_and_csrf() -> None:
    env = _env()

    class Account:
        role = "researcher"

    html = env.get_template("base.html").render(lang="en", account=Account(), csrf_token="abc")
    assert 'href="/research"' in html and 'href="/sessions"' not in html
    assert 'name="_csrf_token" value="abc"' in html and 'name="csrf-token" content="abc"' in html
    anon = env.get_template("base.html").render(lang="en", account=None)
    assert 'href="/login"' in anon and "/logout" not in anon and "csrf-token" not in anon


def test_error_page() -> None:
    html = _env().get_template("errors/error.html").render(lang="nl", status_code=404, account=None)
    assert "Pagina niet gevonden" in html and "Fout 404" in html


def test_format_helpers() -> None:
    naive_utc = datetime(2025, 7, 1, 10, 30)  # naive = UTC; shown in Amsterdam summer time
    assert i18n.format_time(naive_utc, "nl") == "12:30"
    assert i18n.format_date(naive_utc, "nl", "long") == "1 juli 2025"
    assert i18n.format_datetime(None, "en") == ""
