"""The service's front door: a bearer token read once at start, and a cap on request bodies.

Fail closed: a replica refuses to start without MONOREC_API_TOKEN unless MONOREC_INSECURE_NO_AUTH
is set (by `jobs/run_service.py --insecure-no-auth`), and then says so loudly, once. The token is read
when the replica starts, never per request, so a replica cannot silently turn open later.

A plain ASGI middleware (Starlette's `BaseHTTPMiddleware` costs a task and a stream copy on
every request). Bodies larger than `MAX_BODY_BYTES` are refused with 413 before they are parsed:
by their Content-Length, or, without one, by counting while they are read.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
from typing import TYPE_CHECKING

from monorec.errors import MonorecError

if TYPE_CHECKING:  # the token check imports without the [serve] extra: jobs/run_service.py runs it first
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_ENV = "MONOREC_API_TOKEN"
INSECURE_ENV = "MONOREC_INSECURE_NO_AUTH"
OPEN_PATHS = frozenset({"/health", "/"})  # the explorer page carries no data: it fetches with the token
MAX_BODY_BYTES = 64 * 1024
log = logging.getLogger(__name__)


@functools.cache
def required_token() -> str | None:
    """The bearer token every request but /health and the explorer page must carry; None only in
    explicit insecure mode."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    if os.environ.get(INSECURE_ENV, "").strip().lower() in {"1", "true", "yes"}:
        log.warning(
            "!!! monorec is serving WITHOUT authentication (%s is set): anyone who reaches this port can "
            "query and steer it. Set %s for anything but a local test. !!!",
            INSECURE_ENV,
            TOKEN_ENV,
        )
        return None
    raise MonorecError(
        f"refusing to serve without a token: set {TOKEN_ENV} in the environment of the replicas (on a cluster, "
        f"of `ray start` or the Serve config's runtime_env), or pass --insecure-no-auth ({INSECURE_ENV}=1) for a "
        "local test"
    )


class Guard:
    """401 without the bearer token, 413 for bodies over MAX_BODY_BYTES."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.expected = None if (token := required_token()) is None else f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        guarded = self.expected is not None and scope["path"] not in OPEN_PATHS
        if guarded and not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
            await _error(scope, receive, send, 401, "missing or wrong bearer token")
            return
        length = headers.get(b"content-length", b"")
        if length and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _error(scope, receive, send, 413, f"request body over {MAX_BODY_BYTES} bytes")
            return
        if not length and scope["method"] in ("POST", "PUT", "PATCH"):
            messages = await _read_capped(receive)
            if messages is None:
                await _error(scope, receive, send, 413, f"request body over {MAX_BODY_BYTES} bytes")
                return
            receive = _replay(messages)
        await self.app(scope, receive, send)


async def _read_capped(receive: Receive) -> list[Message] | None:
    """A body sent without Content-Length, read up to the cap (None past it)."""
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if size > MAX_BODY_BYTES:
            return None
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message]) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    return receive


async def _error(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    from starlette.responses import JSONResponse

    await JSONResponse({"error": message}, status_code=status)(scope, receive, send)
