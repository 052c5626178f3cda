"""The Rasa server, used like a database: its REST channel and its HTTP API.

A larger shop runs several Rasa servers over one tracker store and one lock store (PostgreSQL and Redis), so
any server can take any customer. Each customer still has a server of their own (their tracker stays in its
cache); one that cannot be reached is passed over for ``DOWN_S``, and its customers go to the next."""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

DOWN_S = 10.0  # a server that could not be reached is tried last for this long
MOVED_ON = {502, 503}  # a proxy or a loading server that took nothing: safe to try the next


def rasa_sender(channel: str, external_id: str) -> str:
    """The customer's sender id in Rasa (its tracker)."""
    return f"{channel}-{external_id}"


class RasaUnavailable(RuntimeError):
    """Rasa did not answer usefully (down, timed out, or an error status)."""


class RasaTurnLost(RasaUnavailable):
    """The server went away in the middle of this turn (killed, restarted): the turn may have run, and is not
    run again elsewhere; but the bot as a whole is not down, and the next message goes to a server that is up."""


def never_sent(exc: BaseException) -> bool:
    """The request surely did not reach the server: no connection was made, or a kept-alive one was found
    closed while the request was being written (the server restarted since)."""
    while exc is not None:
        if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ClientConnectionResetError)):
            return True
        exc = exc.__cause__
    return False


class RasaClient:
    def __init__(self, session: aiohttp.ClientSession, base_urls: Sequence[str], token: str,
                 timeout: float) -> None:
        self.session, self.token = session, token
        self.servers = [url.rstrip("/") for url in base_urls]
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._down_until: dict[str, float] = {}

    def servers_for(self, sender: str) -> list[str]:
        """The sender's own server first, then the others in turn; those down lately last."""
        start = zlib.crc32(sender.encode()) % len(self.servers)
        turn = self.servers[start:] + self.servers[:start]
        now = time.monotonic()
        return sorted(turn, key=lambda server: self._down_until.get(server, 0.0) > now)

    def _pass_over(self, server: str) -> None:
        self._down_until[server] = time.monotonic() + DOWN_S

    async def _post(self, sender: str, path: str, **request: Any) -> tuple[int, bytes]:
        """POST to the sender's server, moving on only where the request surely did nothing (no connection,
        502/503): a turn that timed out or broke off may have run, and is not run twice."""
        reason = ""
        for server in self.servers_for(sender):
            try:
                async with self.session.post(server + path, timeout=self.timeout, **request) as response:
                    if response.status not in MOVED_ON:
                        self._down_until.pop(server, None)
                        return response.status, await response.read()
                    reason = f"HTTP {response.status}"
            except TimeoutError as exc:
                raise RasaUnavailable(f"Rasa unreachable: TimeoutError (no answer in {self.timeout.total:g} s)") from exc
            except aiohttp.ClientError as exc:
                if not never_sent(exc):
                    self._pass_over(server)
                    raise RasaTurnLost(f"Rasa at {server} went away mid-turn: {exc.__class__.__name__}") from exc
                reason = exc.__class__.__name__
            self._pass_over(server)
            if len(self.servers) > 1:
                log.warning("Rasa at %s did not take the turn (%s); trying the next", server, reason)
        raise RasaUnavailable(f"Rasa unreachable: {reason}")

    async def message(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict]:
        """Send one customer message through Rasa's REST channel; returns its bot messages."""
        body = {"sender": sender, "message": text, "metadata": metadata or {}}
        status, raw = await self._post(sender, "/webhooks/rest/webhook", json=body)
        if status != 200:
            raise RasaUnavailable(f"Rasa answered HTTP {status}")
        try:
            messages = json.loads(raw)
        except ValueError:
            messages = None
        if not isinstance(messages, list):
            raise RasaUnavailable("Rasa returned an unexpected body")
        return messages

    async def add_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Append events (pause, resume, ...) to the sender's tracker through the HTTP API, in order."""
        status, _raw = await self._post(sender, f"/conversations/{quote(sender, safe='')}/tracker/events",
                                        json=events, params={"token": self.token})
        if status != 200:
            names = ", ".join(e["event"] for e in events)
            raise RasaUnavailable(f"Rasa answered HTTP {status} to {names}")

    async def reachable(self) -> bool:
        """Whether a server answers (each is asked; those that do not are passed over for a while)."""
        answered = False
        for server in self.servers:
            try:
                async with self.session.get(f"{server}/", timeout=aiohttp.ClientTimeout(total=2)) as response:
                    up = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                up = False
            if up:
                self._down_until.pop(server, None)
            else:
                self._pass_over(server)
            answered = answered or up
        return answered


RASA = web.AppKey("rasa", RasaClient)
