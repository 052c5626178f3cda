"""Unit tests run with the network switched off."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address):
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        raise RuntimeError(f"unit tests must not use the network (tried {address!r})")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect)
