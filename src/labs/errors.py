"""Errors services raise; the web layer maps each to one HTTP status with a clear message."""

from __future__ import annotations


class LabsError(Exception):
    status_code = 400

    def __init__(self, message: str, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


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


class RateLimited(LabsError):
    status_code = 429
