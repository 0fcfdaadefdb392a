"""Sending email through the SMTP server in LABS_SMTP_URL:

    smtp://host:25                  plain (a relay on the same machine or network)
    smtp://user:pass@host:587       STARTTLS when the server offers it, then log in
    smtps://user:pass@host:465      TLS from the start

User and password are URL-encoded (an @ in a user name is %40)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

Deliver = Callable[[EmailMessage], None]
TIMEOUT_S = 30


def sender(url: str) -> Deliver:
    """A function that sends one message through the server at `url` (ValueError if the URL is unusable)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"LABS_SMTP_URL must look like smtp://host:port or smtps://user:pass@host:465, not {url!r}")
    secure = parts.scheme == "smtps"
    host, port = parts.hostname, parts.port or (465 if secure else 25)
    user, password = unquote(parts.username or ""), unquote(parts.password or "")

    def deliver(message: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if secure:
            client = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_S, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=TIMEOUT_S)
        with client:
            if not secure and client.has_extn("starttls"):
                client.starttls(context=context)
            if user:
                client.login(user, password)
            client.send_message(message)

    return deliver
