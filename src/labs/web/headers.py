"""Security headers on every HTTP answer. The pages load scripts and styles only from /static
(no inline script or style, so the policy needs no nonces); only the projector may be framed, and
only by the origins in LABS_FRAME_ANCESTORS (a dashboard or a signage system)."""

from __future__ import annotations

import re
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

PROJECTOR = re.compile(r"^/sessions/\d+/projector$")


def policy(frame_ancestors: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            # style="" attributes only (a poll's bar width); no <style> elements, and no script.
            "style-src-attr 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def security_headers(framable_by: str) -> Any:
    """Middleware factory: `framable_by` is the space-separated origins that may frame the projector."""
    closed = policy("'none'").encode()
    projector = policy(f"'self' {framable_by}".strip()).encode()
    fixed = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]

    def middleware(app: ASGIApp) -> ASGIApp:
        async def with_headers(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            csp = projector if PROJECTOR.match(scope["path"]) else closed

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers") or [])
                    # A page that sets its own (the follow-up form: no-referrer) keeps it.
                    own = {name.lower() for name, _ in headers}
                    headers += [(b"content-security-policy", csp), *(h for h in fixed if h[0] not in own)]
                    message = {**message, "headers": headers}
                await send(message)

            await app(scope, receive, send_with_headers)

        return with_headers

    return middleware
