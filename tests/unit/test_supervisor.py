"""The restart schedule of `techan run`: growing pauses, and giving up on a process that keeps dying."""

from __future__ import annotations

import signal
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from techan.supervisor import MAX_RESTARTS_PER_MINUTE, RESTART_PAUSES_S, Child, Signals, _schedule_restart, _stop


class Dead:
    """A process that has exited (what Popen shows after SIGKILL)."""

    returncode = -9

    def poll(self) -> int:
        return self.returncode


def test_a_dead_process_is_restarted_after_growing_pauses_then_given_up(tmp_path: Path, capsys):
    child = Child("rasa", lambda: subprocess.Popen(["true"]), "http://127.0.0.1:9/")
    pauses = []
    now = 1000.0
    for _ in range(MAX_RESTARTS_PER_MINUTE):
        child.process = Dead()
        assert _schedule_restart(child, now, tmp_path / "console.log") is True
        pauses.append(child.restart_at - now)
        child.restart_at = None
        now += 1
    assert pauses == list(RESTART_PAUSES_S[:MAX_RESTARTS_PER_MINUTE])
    status = child.status()
    assert datetime.fromisoformat(status.pop("last_exit_at")) > datetime.now(timezone.utc) - timedelta(minutes=1)
    assert status == {"state": "starting", "restarts": MAX_RESTARTS_PER_MINUTE,
                      "last_exit": "exited with code -9 (SIGKILL)"}
    child.process = Dead()
    assert _schedule_restart(child, now, tmp_path / "console.log") is False  # six deaths within a minute
    assert "giving up" in capsys.readouterr().err


def test_the_pause_starts_small_again_after_a_quiet_minute(tmp_path: Path):
    child = Child("app", lambda: subprocess.Popen(["true"]), "http://127.0.0.1:9/")
    for now in (0.0, 1.0, 2.0):
        child.process = Dead()
        _schedule_restart(child, now, tmp_path / "console.log")
    child.process = Dead()
    _schedule_restart(child, 500.0, tmp_path / "console.log")
    assert child.restart_at == 500.0 + RESTART_PAUSES_S[0] and child.total_restarts == 4


class Running:
    """A child that exits on SIGTERM after ``polls_to_exit`` polls (or never); records what it was sent."""

    def __init__(self, name: str, log: list[str], polls_to_exit: int | None = 0, on_poll=None) -> None:
        self.name, self.log, self.polls_to_exit, self.on_poll = name, log, polls_to_exit, on_poll
        self.returncode = None
        self.terminated = False

    def poll(self):
        if self.on_poll:
            self.on_poll()
        if self.terminated and self.returncode is None and self.polls_to_exit is not None:
            if self.polls_to_exit == 0:
                self.returncode = 0
                self.log.append(f"{self.name} exited")
            self.polls_to_exit -= 1
        return self.returncode

    def send_signal(self, signum) -> None:
        self.log.append(f"{self.name} {signal.Signals(signum).name}")
        self.terminated = True

    def kill(self) -> None:
        self.log.append(f"{self.name} SIGKILL")
        self.returncode = -9

    def wait(self, timeout=None):
        return self.returncode


def _children(app, rasa) -> list[Child]:
    children = [Child("app", lambda: app, "http://127.0.0.1:9/"), Child("rasa", lambda: rasa, "http://127.0.0.1:9/")]
    for child in children:
        child.launch()
    return children


def test_the_app_is_stopped_before_rasa_so_its_turns_in_flight_can_finish():
    sent: list[str] = []
    app = Running("app", sent, polls_to_exit=3)  # drains for a while
    summary = _stop(_children(app, Running("rasa", sent)), Signals())
    assert summary == "stopped app, stopped rasa"
    assert sent == ["app SIGTERM", "app exited", "rasa SIGTERM", "rasa exited"]  # Rasa answers until the app is done


def test_a_second_ctrl_c_is_reported_and_a_third_kills(capsys, monkeypatch):
    monkeypatch.setattr("techan.supervisor.time.sleep", lambda _s: None)
    signals, sent, polls = Signals(), [], []

    def ctrl_c_while_draining() -> None:  # the operator presses Ctrl-C twice more while the app drains
        polls.append(1)
        if len(polls) in (5, 10):
            signals(2, None)

    signals(2, None)  # the first Ctrl-C started the stop
    app = Running("app", sent, polls_to_exit=None, on_poll=ctrl_c_while_draining)  # would drain for ever
    summary = _stop(_children(app, Running("rasa", sent)), signals)
    out = capsys.readouterr().out
    assert "still stopping: waiting for the app process to finish the requests in flight" in out
    assert "stop signal 3: killing the app process now (the requests in flight may be cut off)" in out
    assert summary == "killed app, stopped rasa" and sent == ["app SIGTERM", "app SIGKILL", "rasa SIGTERM", "rasa exited"]
