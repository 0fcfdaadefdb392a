"""Errors services raise; the web layer maps each to one HTTP status with a clear message."""

from __future__ import annotations

from typing import Any

from labs import i18n


class Text(str):
    """An English message that remembers its catalog id and values, so a page can show it in the
    reader's language while the API and logs get the English text."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, params: dict[str, Any]) -> Text:
        text = super().__new__(cls, msgid % params if params else msgid)
        text.msgid, text.params = msgid, params
        return text

    def in_language(self, lang: str) -> str:
        # A "label" value names a field ("The title") and is itself a catalog entry.
        params = {k: i18n.gettext(lang, v) if k == "label" else v for k, v in self.params.items()}
        return i18n.gettext(lang, self.msgid, **params)


class LabsError(Exception):
    status_code = 400

    def __init__(self, message: str, field_errors: dict[str, str] | None = None, **params: Any) -> None:
        self.message = Text(message, params)
        self.field_errors = {field: Text(text, params) for field, text in (field_errors or {}).items()}
        super().__init__(self.message)


class Invalid(LabsError):
    status_code = 400


class Unauthorized(LabsError):
    status_code = 401


class Forbidden(LabsError):
    status_code = 403


class NotFound(LabsError):
    status_code = 404


class Conflict(LabsError):
    status_code = 409


class Gone(LabsError):
    status_code = 410


class UnsupportedMediaType(LabsError):
    status_code = 415


class RateLimited(LabsError):
    status_code = 429
