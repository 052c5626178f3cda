"""``techan run``: the app and the Rasa server as two supervised child processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import webbrowser
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from techan.rasa_process import log_tail, rasa_env, server_command
from techan.serving import DRAIN_TIMEOUT_S, HANDLER_SHUTDOWN_S
from core.settings import Settings
from core.status import STATUS_FILE

STARTUP_TIMEOUT_S = 300
STOP_TIMEOUT_S = 15  # Rasa, after the app
APP_STOP_TIMEOUT_S = DRAIN_TIMEOUT_S + HANDLER_SHUTDOWN_S + 10  # the app drains its requests in flight first
PROGRESS_EVERY_S = 30
HEALTH_TIMEOUT_S = 6
RESTART_PAUSES_S = (1, 2, 5, 10, 30)  # before the 1st, 2nd, … restart of a process
MAX_RESTARTS_PER_MINUTE = 5


def _ok(url: str) -> bool:
    try:  # the app's /healthz asks Rasa too (up to 2 s): a busy Rasa must not make the app look down
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S) as response:  # noqa: S310 - loopback URLs only
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


@dataclass
class Child:
    """One supervised process: how to start it, how to tell it is up, and its recent restarts."""

    name: str
    start: Callable[[], subprocess.Popen]
    health_url: str
    process: subprocess.Popen | None = None
    restarts: deque = field(default_factory=deque)  # monotonic times of restarts in the last minute
    restart_at: float | None = None  # when a dead process is started again
    up: bool = False
    total_restarts: int = 0
    last_exit: str = ""
    last_exit_at: str = ""  # wall-clock time (ISO, UTC) of that exit, for the staff console's notice

    def launch(self) -> None:
        self.process, self.restart_at, self.up = self.start(), None, False

    def status(self) -> dict:
        return {"state": "up" if self.up else ("restarting" if self.restart_at else "starting"),
                "restarts": self.total_restarts, "last_exit": self.last_exit, "last_exit_at": self.last_exit_at}


def _parent_death_signal() -> Callable[[], None] | None:
    """Linux: a child gets SIGTERM when the supervisor dies (even by SIGKILL), so none is left behind."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here: the child only calls it
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(command: list[str], **kwargs) -> subprocess.Popen:
    """Start a child in its own process group: a terminal's Ctrl-C reaches only the supervisor, which
    stops the children in order (the app drains its turns while Rasa still answers them, then Rasa)."""
    return subprocess.Popen(command, process_group=0, preexec_fn=_parent_death_signal(), **kwargs)


class Signals:
    """How many stop signals arrived (Ctrl-C, SIGTERM); the handler only counts, the loops report."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, signum, _frame) -> None:
        self.count += 1


def _stop_one(child: Child, timeout: float, signals: Signals, what: str) -> str:
    """SIGTERM ``child`` and wait up to ``timeout`` (bounded; a third stop signal kills it at once)."""
    process = child.process
    if process is None or process.poll() is not None:
        return f"{child.name} was not running"
    process.send_signal(signal.SIGTERM)
    deadline, seen = time.monotonic() + timeout, signals.count
    while process.poll() is None and time.monotonic() < deadline:
        if signals.count != seen:
            seen = signals.count
            if seen >= 3:
                _say(f"techan: stop signal {seen}: killing the {child.name} process now ({what} may be cut off)")
                break
            _say(f"techan: still stopping: waiting for the {child.name} process to finish {what} "
                 f"(at most {deadline - time.monotonic():.0f} s more; a third Ctrl-C kills it)")
        time.sleep(0.1)
    if process.poll() is None:
        process.kill()
        process.wait()
        return f"killed {child.name}"
    return f"stopped {child.name}" + (f" (exit {process.returncode})" if process.returncode else "")


def _stop(children: list[Child], signals: Signals) -> str:
    """The app first (it finishes the turns in flight, which need Rasa), then Rasa; what was done."""
    by_name = {c.name: c for c in children}
    done = [_stop_one(by_name["app"], APP_STOP_TIMEOUT_S, signals, "the requests in flight")]
    done.append(_stop_one(by_name["rasa"], STOP_TIMEOUT_S, signals, "its requests"))
    return ", ".join(done)


def _say(text: str, stream=None) -> None:
    try:
        print(text, file=stream or sys.stdout, flush=True)
    except OSError:  # the terminal or the pipe is gone: stopping goes on all the same
        pass


def write_status(path: Path, children: list[Child]) -> None:
    """What /healthz shows of the supervisor: each process's state, restarts and why it last stopped."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({c.name: c.status() for c in children}), encoding="utf-8")
    tmp.replace(path)


def run_stack(settings: Settings) -> int:
    """Start both, wait until both answer, print the URLs; restart one that dies; stop both on Ctrl-C.

    A dead process is started again after a growing pause (1, 2, 5, 10, 30 s); more than
    ``MAX_RESTARTS_PER_MINUTE`` in a minute means it cannot run here, and the shop stops with
    the reason. Rasa's console (TensorFlow and library deprecation chatter) goes to a log file in
    the data dir rather than the owner's terminal; its tail is shown when Rasa dies.
    """
    rasa_command = server_command(settings)  # fails early, before anything starts, without a model
    rasa_console = settings.rasa_path / "console.log"
    status_path = settings.data_path / STATUS_FILE

    def start_rasa() -> subprocess.Popen:
        with rasa_console.open("a") as output:
            return spawn(rasa_command, env=rasa_env(), stdout=output, stderr=subprocess.STDOUT)

    rasa_console.write_text("")
    children = [Child("app", lambda: spawn([sys.executable, "-m", "techan", "serve"]),
                      f"{settings.app_base_url}/healthz"),
                Child("rasa", start_rasa, f"{settings.rasa_base_url}/")]
    signals = Signals()  # before the children start: an early Ctrl-C stops what has started, in order
    previous = {s: signal.signal(s, signals) for s in (signal.SIGINT, signal.SIGTERM)}
    print("starting the app and the Rasa server…", flush=True)
    try:
        for child in children:
            child.launch()
        announced = False
        started = time.monotonic()
        deadline, next_progress = started + STARTUP_TIMEOUT_S, started + PROGRESS_EVERY_S
        write_status(status_path, children)
        while not signals.count:
            now = time.monotonic()
            for child in children:
                if signals.count:  # stopping: an exit now is no reason to restart a process
                    break
                if child.restart_at is None and child.process.poll() is not None:
                    if not _schedule_restart(child, now, rasa_console):
                        return 1
                    write_status(status_path, children)
                elif child.restart_at is not None and now >= child.restart_at:
                    child.launch()
                    write_status(status_path, children)
                elif not child.up and child.restart_at is None and _ok(child.health_url):
                    child.up = True
                    write_status(status_path, children)
                    if announced:
                        print(f"techan: the {child.name} process is back", flush=True)
                    elif child.name == "app" and not children[1].up:
                        print("app ready; the Rasa server is loading its model (1–2 minutes on 2 cores)…",
                              flush=True)
            if not announced and all(c.up for c in children):
                announced = True
                print(f"\n  web chat     {settings.app_base_url}/"
                      f"\n  owner admin  {settings.app_base_url}/admin/kb"
                      "   (first owner: .venv/bin/techan staff add NAME --role owner)"
                      f"\n  catalog      {settings.app_base_url}/admin/catalog"
                      f"\n  staff        {settings.app_base_url}/console"
                      f"\n  telegram     {telegram_status(settings)}"
                      f"\n  health       {settings.app_base_url}/healthz"
                      f"\n  rasa         {settings.rasa_base_url}/\n\nready. Ctrl-C stops both.",
                      flush=True)
                open_browser(f"{settings.app_base_url}/")
            if not announced and now > deadline:
                waiting = sorted(c.name for c in children if not c.up)
                print(f"techan: not ready after {STARTUP_TIMEOUT_S}s (waiting for {', '.join(waiting)}); stopping",
                      file=sys.stderr, flush=True)
                if "rasa" in waiting:
                    print(log_tail(rasa_console), file=sys.stderr, flush=True)
                return 1
            if not announced and now > next_progress:
                print(f"  … still starting ({now - started:.0f} s; waiting for "
                      f"{', '.join(sorted(c.name for c in children if not c.up))})", flush=True)
                next_progress = now + PROGRESS_EVERY_S
            time.sleep(0.5)
        return 0
    finally:
        _say("stopping: the app finishes the requests in flight, then the Rasa server stops…")
        _say(f"stopping: {_stop(children, signals)}")
        status_path.unlink(missing_ok=True)  # /healthz of a later `techan serve` shows no stale processes
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal has no name
        return f"signal {number}"


def _schedule_restart(child: Child, now: float, rasa_console: Path) -> bool:
    """Note why ``child`` stopped and when it starts again; False when it keeps dying (give up)."""
    code = child.process.returncode
    child.last_exit = f"exited with code {code}" + (f" ({_signal_name(-code)})" if code < 0 else "")
    child.last_exit_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    child.up = False
    while child.restarts and now - child.restarts[0] > 60:
        child.restarts.popleft()
    print(f"techan: the {child.name} process {child.last_exit}", file=sys.stderr, flush=True)
    if child.name == "rasa":
        print(log_tail(rasa_console), file=sys.stderr, flush=True)
    if len(child.restarts) >= MAX_RESTARTS_PER_MINUTE:
        print(f"techan: the {child.name} process stopped {MAX_RESTARTS_PER_MINUTE + 1} times within a minute; "
              "giving up and stopping the shop", file=sys.stderr, flush=True)
        return False
    pause = RESTART_PAUSES_S[min(len(child.restarts), len(RESTART_PAUSES_S) - 1)]  # by this minute's restarts
    child.restarts.append(now)
    child.total_restarts += 1
    child.restart_at = now + pause
    print(f"techan: restarting the {child.name} process in {pause} s", file=sys.stderr, flush=True)
    return True
