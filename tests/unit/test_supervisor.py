"""The restart schedule of `techan run`: growing pauses, and giving up on a process that keeps dying."""

from __future__ import annotations

import subprocess
from pathlib import Path

from techan.supervisor import MAX_RESTARTS_PER_MINUTE, RESTART_PAUSES_S, Child, _schedule_restart


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
    assert child.status() == {"state": "starting", "restarts": MAX_RESTARTS_PER_MINUTE,
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
