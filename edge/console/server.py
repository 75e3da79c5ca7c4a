"""The console's web server: Starlette on uvicorn, on its own supervised thread.

Why these: Starlette is a small, well-kept ASGI toolkit (routing, static files, streaming
responses; no ORM or templates we would not use), and uvicorn its reference server; one
event loop serves every page and its server-sent-event stream, so a page costs a queue,
not a thread. Everything the page loads is served from this package (no CDN: the gate
may be offline).

The page is a hostile channel like any other: a request body is bounded (4 KiB) and read
with models/safejson before anything looks at it; every failure is a JSON error with a
stable code; no request can end the server's thread. Actions need the session cookie
(HttpOnly, SameSite=Strict) and the session's CSRF token in `X-CSRF-Token`.

A registration by tap (`"by_card": true`) waits, off the event loop and at most
TAP_WAIT_S, for the reader's next tap, holding the taps for the guard meanwhile
(edge/cards.py `Taps.for_guard`) so that it is not also decided as a card at the gate.
One such wait at a time (a second: `tap_busy`); a page that leaves ends its wait at once.
Only tokens come here: the number stops at the reader's worker.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from pathlib import Path

from edge import actions
from edge.cards import MAX_CARD_WAIT_S, Tapped, Taps
from edge.console.hub import Hub, sse
from edge.console.views import decision_view
from edge.controller import MEASURE_WAIT_S
from edge.guards import Guards, SignInRefused
from models.safejson import JsonRefused, loads

HERE = Path(__file__).parent
MAX_BODY = 4096
# How long a guard's action may wait for the controller: beyond the longest item ahead of
# it (a scan waiting for a card, then for a temperature), then the page says "timeout".
ACTION_WAIT_S = 5.0 + MAX_CARD_WAIT_S + MEASURE_WAIT_S
HEARTBEAT_S = 15.0
COOKIE = "cp_session"
LANGUAGES = ("zh-CN", "en")
# A visitor finds the card in a bag or a wallet in seconds; past this the guard asks again.
TAP_WAIT_S = 20.0
TAP_SLICE_S = 0.2       # how soon a wait whose page went away lets the taps go


PREVIEW_FPS = 5
BOUNDARY = "frame"


def make_app(hub: Hub, guards: Guards | None, submit, preview=None, *,
             taps: Taps | None = None, clock=None, tap_wait_s: float | None = None):
    """The ASGI app; `submit(action) -> bool` queues a guard action with the controller;
    `preview() -> bytes | None`, when the preview is on, is the newest camera frame as
    JPEG (made on demand, never stored); `taps`, when a card reader is configured, are
    its recent taps (on `clock`'s monotonic time), for registration by tap."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    desk = None if taps is None else TapDesk(taps, clock, tap_wait_s or TAP_WAIT_S)

    def error(status: int, code: str, **extra) -> JSONResponse:
        return JSONResponse({"error": code, **extra}, status_code=status)

    async def index(request):
        return FileResponse(HERE / "static" / "index.html")

    async def language(request):
        lang = request.path_params["lang"]
        if lang not in LANGUAGES:
            return error(404, "unknown_language")
        return FileResponse(HERE / "i18n" / f"{lang}.json")

    async def events(request):
        queue = hub.subscribe()

        async def stream():
            try:
                for kind, data in hub.snapshot():
                    yield sse(kind, data)
                while True:
                    try:
                        yield await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                    except TimeoutError:
                        yield ": still here\n\n"
            finally:
                hub.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    async def camera(request):
        if preview is None:
            return error(404, "preview_off")

        async def stream():
            while True:
                jpeg = await asyncio.to_thread(preview)
                if jpeg:
                    yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                           f"Content-Length: {len(jpeg)}\r\n\r\n").encode() + jpeg + b"\r\n"
                await asyncio.sleep(1.0 / PREVIEW_FPS)

        return StreamingResponse(stream(), headers={"Cache-Control": "no-store"},
                                 media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}")

    async def sign_in(request):
        body = await _json(request)
        if isinstance(body, JSONResponse):
            return body
        if guards is None:
            return error(403, "no_guards")
        try:
            session = await asyncio.to_thread(guards.sign_in, str(body.get("guard", "")),
                                              str(body.get("pin", "")))
        except SignInRefused as refused:
            return error(401, refused.reason, retry_in_s=refused.retry_in_s)
        response = JSONResponse({"guard": session.guard, "csrf": session.csrf})
        response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict")
        return response

    async def sign_out(request):
        if guards is not None:
            guards.sign_out(request.cookies.get(COOKIE))
        response = JSONResponse({})
        response.delete_cookie(COOKIE)
        return response

    async def act(request):
        session = guards and guards.authorised(request.cookies.get(COOKIE),
                                               request.headers.get("x-csrf-token"))
        if not session:
            return error(403, "not_signed_in")
        body = await _json(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            action = _action(body, session.guard)
        except (KeyError, TypeError, ValueError):
            return error(400, "bad_action")
        if body.get("by_card") is True:
            if desk is None:
                return error(409, "no_reader")
            try:
                actions.check_registration(action)  # before the visitor taps, not after
            except actions.ActionError as refused:
                return error(409, refused.reason)
            tap = await desk.take(request)
            if tap == "tap_busy":
                return error(409, "tap_busy")
            if tap is None:
                return error(408, "no_tap")
            action = replace(action, card=tap)
        if not submit(action):
            return error(503, "busy")
        try:
            record = await asyncio.wait_for(asyncio.wrap_future(action.result),
                                            ACTION_WAIT_S)
        except actions.ActionError as refused:
            return error(409, refused.reason)
        except (TimeoutError, FutureTimeout):
            return error(504, "timeout")
        return JSONResponse(decision_view(record))

    routes = [Route("/", index), Route("/i18n/{lang}.json", language),
              Route("/events", events), Route("/preview.mjpg", camera),
              Route("/api/session", sign_in, methods=["POST"]),
              Route("/api/session", sign_out, methods=["DELETE"]),
              Route("/api/actions", act, methods=["POST"]),
              Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
    return Starlette(routes=routes)


async def _json(request):
    """The request's JSON object, at a bounded cost, or the error response to send."""
    from starlette.requests import ClientDisconnect
    from starlette.responses import JSONResponse

    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        return JSONResponse({"error": "too_large"}, status_code=413)
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"error": "too_large"}, status_code=413)
    except ClientDisconnect:    # gone mid-body: nobody to answer, nothing to act on
        return JSONResponse({"error": "bad_json", "detail": "disconnected"}, status_code=400)
    try:
        value = loads(body, max_bytes=MAX_BODY, max_depth=2)
    except JsonRefused as refused:     # one code for the page, safejson's own as detail
        if refused.reason == "too_large":
            return JSONResponse({"error": "too_large"}, status_code=413)
        return JSONResponse({"error": "bad_json", "detail": refused.reason}, status_code=400)
    if not isinstance(value, dict):
        return JSONResponse({"error": "bad_json"}, status_code=400)
    return value


def _action(body: dict, guard: str) -> actions.Action:
    kind, of = body["kind"], str(body["of"])
    by_card = body.get("by_card", False)
    if not isinstance(by_card, bool) or (by_card and kind != "register"):
        raise ValueError("by_card")     # only a registration is made by tap
    if kind == "override":
        return actions.Override(guard, of, allow=bool(body["allow"]), reason=str(body["reason"]))
    if kind == "check_done":
        return actions.CheckDone(guard, of, allow=bool(body["allow"]),
                                 reason=str(body["reason"]))
    if kind == "register":
        phone = body.get("phone_last4") or None
        return actions.Registration(guard, of, unit=str(body["unit"]),
                                    reason=str(body["reason"]),
                                    phone_last4=None if phone is None else str(phone))
    raise ValueError(kind)


class TapDesk:
    """The console's wait for a visitor's tap: one at a time, bounded, given up as soon
    as the page that asked has gone."""

    def __init__(self, taps: Taps, clock, wait_s: float) -> None:
        self.taps, self.clock, self.wait_s = taps, clock, wait_s
        self._one = threading.Lock()

    async def take(self, request) -> Tapped | str | None:
        """The first tap once the wait began; None when none came in time (or the
        page went away); "tap_busy" while another registration waits for its tap."""
        if not self._one.acquire(blocking=False):
            return "tap_busy"
        gone = threading.Event()
        try:
            waiting = asyncio.ensure_future(asyncio.to_thread(self._wait, gone))
            leaving = asyncio.ensure_future(_left(request))
            try:
                await asyncio.wait({waiting, leaving}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                leaving.cancel()
                gone.set()      # the wait is over either way: its thread lets go
            tap = await waiting
            return None if leaving.done() and not leaving.cancelled() else tap
        finally:
            self._one.release()

    def _wait(self, gone: threading.Event) -> Tapped | None:
        """On a worker thread: the taps are the guard's until a tap, the deadline (real
        time, as Taps.wait_new counts it) or the page's leaving. Only a tap seen once the
        hold is in place counts, so none the gate may also have decided alone is taken."""
        deadline = time.monotonic() + self.wait_s
        with self.taps.for_guard():
            since = self.clock.monotonic()
            while not gone.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                tap = self.taps.wait_new(since, min(left, TAP_SLICE_S))
                if tap is not None:
                    return tap
        return None


async def _left(request) -> None:
    """Returns once the client has closed the connection: with the body read, the next
    message the server sends the app is the disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class ConsoleServer:
    """uvicorn serving the app on `listen` (HOST:PORT) from a thread of its own."""

    def __init__(self, app, listen: str) -> None:
        import uvicorn

        host, port = listen.rsplit(":", 1)
        self._server = uvicorn.Server(uvicorn.Config(
            app, host=host, port=int(port), log_level="warning", lifespan="off",
            access_log=False))
        self._thread = threading.Thread(target=self._server.run, name="console", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        """Serve; OSError when the address cannot be bound within `timeout`. uvicorn sets
        no event when it is listening, so its flag is looked at every 20 ms."""
        self._thread.start()
        pause, waited = threading.Event(), 0.0
        while not self._server.started and self._thread.is_alive() and waited < timeout:
            pause.wait(0.02)
            waited += 0.02
        if not self._server.started:
            raise OSError(f"console: cannot serve on {self.address}")

    @property
    def address(self) -> str:
        config = self._server.config
        return f"{config.host}:{config.port}"

    @property
    def alive(self) -> bool:
        """Serving, or stopped on purpose: only a thread that ended by itself is dead."""
        return self._thread.is_alive() or self._server.should_exit

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5.0)
