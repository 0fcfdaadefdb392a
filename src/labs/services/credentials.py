"""Secrets people and scripts hold: passwords (argon2) and tokens (only their SHA-256 is stored).

Argon2 is slow on purpose; it runs in a small pool of threads so that a burst of logins (or of
guesses) takes those threads, not the event loop that serves every page and live session."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from labs.i18n import N_

ACCOUNT_TOKEN_PREFIX = "lat_"
PARTICIPANT_TOKEN_PREFIX = "lpt_"
FOLLOW_UP_TOKEN_PREFIX = "lfu_"
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
# Two at a time: the machine keeps cores for everything else while a flood of logins queues here.
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("labs-timing-equaliser")


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, _hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_pool, _verify, password_hash, password)


def password_problem(password: str) -> str | None:
    """Why a password is too weak (a message with %(n)s for the minimum length), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return N_("The password must be at least %(n)s characters.")
    if len(set(password)) < 4:
        return N_("The password must not repeat the same few characters.")
    if password.lower() in {"password123", "welcome123", "qwertyuiop", "1234567890", "labs123456"}:
        return N_("The password is too common.")
    return None


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def follow_up_token(secret_key: str, nonce: str) -> str:
    """A check-in's private link token: an HMAC of its stored nonce, so the facilitator can copy
    the link again later while the database holds only the nonce and the token's digest (a copy
    of the database without the secret key opens no form)."""
    mac = hmac.new(secret_key.encode(), f"follow-up:{nonce}".encode(), hashlib.sha256).digest()
    return FOLLOW_UP_TOKEN_PREFIX + base64.urlsafe_b64encode(mac).decode().rstrip("=")
