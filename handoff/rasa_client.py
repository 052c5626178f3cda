"""The Rasa server, used like a database: its REST channel and its HTTP API."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)


def rasa_sender(channel: str, external_id: str) -> str:
    """The customer's sender id in Rasa (its tracker)."""
    return f"{channel}-{external_id}"


class RasaUnavailable(RuntimeError):
    """Rasa did not answer usefully (down, timed out, or an error status)."""


class RasaClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str, timeout: float) -> None:
        self.session, self.base_url, self.token = session, base_url.rstrip("/"), token
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def message(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict]:
        """Send one customer message through Rasa's REST channel; returns its bot messages."""
        body = {"sender": sender, "message": text, "metadata": metadata or {}}
        try:
            async with self.session.post(f"{self.base_url}/webhooks/rest/webhook", json=body,
                                         timeout=self.timeout) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status}")
                messages = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa unreachable: {exc.__class__.__name__}: {exc}") from exc
        if not isinstance(messages, list):
            raise RasaUnavailable("Rasa returned an unexpected body")
        return messages

    async def add_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Append events (pause, resume, ...) to the sender's tracker through the HTTP API, in order."""
        url = f"{self.base_url}/conversations/{quote(sender, safe='')}/tracker/events"
        try:
            async with self.session.post(url, json=events, params={"token": self.token},
                                         timeout=self.timeout) as response:
                if response.status != 200:
                    names = ", ".join(e["event"] for e in events)
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status} to {names}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa unreachable: {exc.__class__.__name__}") from exc

    async def reachable(self) -> bool:
        try:
            async with self.session.get(f"{self.base_url}/", timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False


RASA = web.AppKey("rasa", RasaClient)
