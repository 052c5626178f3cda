"""``techan run``: the app and the Rasa server as two supervised child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import webbrowser

from techan.rasa_process import log_tail, rasa_env, server_command
from techan.settings import Settings

STARTUP_TIMEOUT_S = 300
STOP_TIMEOUT_S = 15
PROGRESS_EVERY_S = 30


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URLs only
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def telegram_status(settings: Settings) -> str:
    if not settings.telegram_token:
        return "off (set TECHAN_TELEGRAM_TOKEN to turn it on)"
    mode = "webhook" if settings.public_url.startswith("https://") else "long polling"
    return mode + (f", staff group {settings.telegram_staff_chat}" if settings.telegram_staff_chat else "")


def open_browser(url: str) -> None:
    """Open the web chat for a person at a desktop; never in CI, over SSH or without a display."""
    desktop = sys.platform == "darwin" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if desktop and sys.stdout.isatty() and not os.environ.get("CI"):
        webbrowser.open(url)


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in processes.values():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_stack(settings: Settings) -> int:
    """Start both, wait until both answer, print the URLs, stop both on Ctrl-C or if one dies.

    Rasa's console (TensorFlow and library deprecation chatter) goes to a log file in the
    data dir rather than the owner's terminal; its tail is shown if Rasa fails.
    """
    rasa_command = server_command(settings)  # fails early, before anything starts, without a model
    rasa_console = settings.rasa_path / "console.log"
    print("starting the app and the Rasa server…", flush=True)
    with rasa_console.open("w") as rasa_output:
        processes = {
            "app": subprocess.Popen([sys.executable, "-m", "techan", "serve"]),
            "rasa": subprocess.Popen(rasa_command, env=rasa_env(), stdout=rasa_output, stderr=subprocess.STDOUT),
        }
    stopping = False

    def request_stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        checks = {"app": f"{settings.app_base_url}/healthz", "rasa": f"{settings.rasa_base_url}/"}
        ready: set[str] = set()
        started = time.monotonic()
        deadline, next_progress = started + STARTUP_TIMEOUT_S, started + PROGRESS_EVERY_S
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"techan: the {name} process exited with code {process.returncode}; stopping",
                          file=sys.stderr, flush=True)
                    if name == "rasa":
                        print(log_tail(rasa_console), file=sys.stderr, flush=True)
                    return 1
            for name, url in checks.items():
                if name not in ready and _ok(url):
                    ready.add(name)
                    if name == "app" and "rasa" not in ready:
                        print("app ready; the Rasa server is loading its model (1–2 minutes on 2 cores)…",
                              flush=True)
                    if len(ready) == len(checks):
                        print(f"\n  web chat     {settings.app_base_url}/"
                              f"\n  owner admin  {settings.app_base_url}/admin/kb"
                              "   (first owner: .venv/bin/techan staff add NAME --role owner)"
                              f"\n  staff        {settings.app_base_url}/console"
                              f"\n  telegram     {telegram_status(settings)}"
                              f"\n  health       {settings.app_base_url}/healthz"
                              f"\n  rasa         {settings.rasa_base_url}/\n\nready. Ctrl-C stops both.",
                              flush=True)
                        open_browser(f"{settings.app_base_url}/")
            now = time.monotonic()
            if len(ready) < len(checks) and now > deadline:
                waiting = sorted(set(checks) - ready)
                print(f"techan: not ready after {STARTUP_TIMEOUT_S}s (waiting for {', '.join(waiting)}); stopping",
                      file=sys.stderr, flush=True)
                if "rasa" in waiting:
                    print(log_tail(rasa_console), file=sys.stderr, flush=True)
                return 1
            if len(ready) < len(checks) and now > next_progress:
                print(f"  … still starting ({now - started:.0f} s; waiting for "
                      f"{', '.join(sorted(set(checks) - ready))})", flush=True)
                next_progress = now + PROGRESS_EVERY_S
            time.sleep(0.5)
        return 0
    finally:
        print("stopping…", flush=True)
        _stop(processes)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
