"""Killing and restarting the app during a waiting and an assigned chat loses nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from techan import PROJECT_ROOT
from tests.conftest import shared_models_dir
from tests.e2e.test_stack import call
from tests.stack import WebCustomers, free_port, shop_env, staff_token


def start_app(data_dir: Path, port: int) -> subprocess.Popen:
    """`techan serve` alone; Rasa is not running, and with no grace every new chat is handed to staff."""
    env = {**shop_env(data_dir), "TECHAN_PORT": str(port),
           "TECHAN_RASA_PORT": str(free_port()), "TECHAN_MODELS_DIR": str(shared_models_dir()),
           "TECHAN_BUSINESS_HOURS": "mon-sun 00:00-24:00", "TECHAN_BOT_GRACE_S": "0"}
    process = subprocess.Popen([sys.executable, "-m", "techan", "serve"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return process
        except (urllib.error.URLError, OSError):
            if process.poll() is not None:
                break
            time.sleep(0.5)
    process.kill()
    pytest.fail("techan serve did not start")


def chat(customers: WebCustomers, sender: str, text: str) -> dict:
    status, answer = customers.request(sender, body={"text": text})
    assert status == 200, answer
    return answer


def test_kill_and_restart_keeps_queue_assignment_and_messages(tmp_path):
    port = free_port()
    app = start_app(tmp_path, port)
    try:
        token = staff_token(tmp_path, name="xiaoli")
        base = f"http://127.0.0.1:{port}"
        customers = WebCustomers(base)
        assert chat(customers, "web-first", "我要找人工")["state"] == "waiting"
        assert chat(customers, "web-second", "瓷器碎了怎么办")["state"] == "waiting"
        queue = call(base, "GET", "/api/handoffs", token)["handoffs"]
        call(base, "POST", f"/api/handoffs/{queue[0]['id']}/claim", token)
        call(base, "POST", f"/api/conversations/{queue[0]['conversation_id']}/messages", token, {"text": "我在"})
        chat(customers, "web-second", "还在排队吗")
        before = {h["id"]: (h["state"], h["claimed_by"], h["created_at"]) for h in queue}

        app.send_signal(signal.SIGKILL)
        app.wait(timeout=30)
        app = start_app(tmp_path, port)

        after = call(base, "GET", "/api/handoffs", token)["handoffs"]
        assert [h["id"] for h in after] == [h["id"] for h in queue]  # same queue, same order
        assert after[0]["state"] == "assigned" and after[0]["claimed_by"] == "xiaoli"
        assert after[1]["state"] == "waiting" and after[1]["created_at"] == before[after[1]["id"]][2]
        first = call(base, "GET", f"/api/conversations/{after[0]['conversation_id']}", token)["transcript"]
        second = call(base, "GET", f"/api/conversations/{after[1]['conversation_id']}", token)["transcript"]
        assert "我要找人工" in [m["text"] for m in first] and "我在" in [m["text"] for m in first]
        assert [m["text"] for m in second if m["direction"] == "in"] == ["瓷器碎了怎么办", "还在排队吗"]
        assert chat(customers, "web-second", "你好？")["state"] == "waiting"  # still with staff after the restart
    finally:
        app.kill()
        app.wait(timeout=30)
