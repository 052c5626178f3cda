"""``techan serve``: the app on its port, and a shutdown that first finishes the requests in flight.

aiohttp's own shutdown closes the listening socket before it waits for handlers, but a customer's turn
in flight needs the socket: Rasa calls the app's ``/webhook`` for the turn's custom actions. So on
SIGINT or SIGTERM the app keeps serving, refuses new customer and staff messages (503 with
``Retry-After``: nothing new is stored that could be left unanswered), waits until the messages in
flight have their replies (bounded by ``DRAIN_TIMEOUT_S``, longer than the router's own Rasa timeout),
logs what it waited for, and only then stops. A second signal during the drain is logged, not obeyed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass, field

from aiohttp import web

from core.waiting import event_set_within

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 30.0  # the router gives Rasa 10 s per turn (TECHAN_RASA_TIMEOUT), plus database writes
HANDLER_SHUTDOWN_S = 5.0  # what aiohttp then gives handlers still running (none, unless the drain timed out)
# Rasa's calls to the action endpoint are part of a turn already counted, and must go on during the drain.
NOT_COUNTED = ("/webhook",)
COUNTED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RESTARTING = ("店铺正在重启，请稍后再发一次。 The shop is restarting; please send again in a moment.")


@dataclass
class Drain:
    """Requests in flight (messages being handled), and whether the app is stopping."""

    in_flight: int = 0
    draining: bool = False
    refused: int = 0
    signals: int = 0
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._idle.set()

    def begin(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def end(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Stop taking messages and wait up to ``timeout`` for those in flight; True when none are left."""
        self.draining = True
        return await event_set_within(self._idle, timeout)


DRAIN = web.AppKey("drain", Drain)


def counted(request: web.Request) -> bool:
    """A message or change being handled (a customer's turn, a staff reply): what a shutdown waits for.

    Reads, long polls and WebSocket pushes (GET) are not: they end with the process and hold nothing.
    """
    return request.method in COUNTED_METHODS and not request.path.startswith(NOT_COUNTED)


@web.middleware
async def track_in_flight(request: web.Request, handler) -> web.StreamResponse:
    if not counted(request):
        return await handler(request)
    drain = request.app[DRAIN]
    if drain.draining:
        drain.refused += 1
        return web.json_response({"error": RESTARTING}, status=503, headers={"Retry-After": "5"})
    drain.begin()
    try:
        return await handler(request)
    finally:
        drain.end()


def install(app: web.Application) -> Drain:
    """Count ``app``'s requests in flight (outermost middleware); call before the app is started."""
    drain = Drain()
    app[DRAIN] = drain
    app.middlewares.insert(0, track_in_flight)
    return drain


def _plural(count: int) -> str:
    return f"{count} request{'' if count == 1 else 's'} in flight"


async def drain_requests(drain: Drain, timeout: float = DRAIN_TIMEOUT_S) -> str:
    """Wait for the requests in flight; returns (and logs) what was done, for the operator."""
    waiting, started = drain.in_flight, time.monotonic()
    if waiting:
        log.info("stopping: waiting for %s (at most %.0f s); new messages are refused", _plural(waiting), timeout)
    finished = await drain.wait_idle(timeout)
    took = time.monotonic() - started
    if not waiting:
        summary = "stopping: no requests in flight"
    elif finished:
        summary = f"stopping: waited for {_plural(waiting)} ({took:.1f} s); each has its reply"
    else:
        summary = (f"stopping: waited {took:.0f} s for {_plural(waiting)}; {drain.in_flight} still running "
                   f"{'is' if drain.in_flight == 1 else 'are'} cut off")
    if drain.refused:
        summary += f"; refused {drain.refused} new request{'' if drain.refused == 1 else 's'} (503, retry)"
    (log.info if finished else log.warning)(summary)
    return summary


async def serve(app: web.Application, host: str, port: int, *, drain_timeout: float = DRAIN_TIMEOUT_S) -> None:
    """Run ``app`` until SIGINT or SIGTERM, then drain the requests in flight and stop."""
    drain = install(app)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main = asyncio.current_task()
    deadline: list[float] = []  # when the drain gives up, once it has begun
    started = False

    def on_signal(signum: int) -> None:
        drain.signals += 1
        name = signal.Signals(signum).name
        if drain.signals > 1:  # the drain is bounded: a second Ctrl-C is reported, never a silent abort
            left = max(deadline[0] - time.monotonic(), 0) if deadline else drain_timeout
            log.warning("stopping: %s again; still waiting for %s (at most %.0f s more)", name,
                        _plural(drain.in_flight), left)
        elif not started:
            log.info("stopping: %s while starting; no requests were taken yet", name)
            main.cancel()
        else:
            log.info("stopping: %s received", name)
            stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=HANDLER_SHUTDOWN_S)
    try:
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        started = True
        await stop.wait()
        deadline.append(time.monotonic() + drain_timeout)
        await drain_requests(drain, drain_timeout)
    except asyncio.CancelledError:
        if not drain.signals:
            raise
    finally:
        await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    log.info("stopped")
