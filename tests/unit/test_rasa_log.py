"""What the supervisor shows of Rasa's console: real errors, not TensorFlow or deprecation chatter.

The sample logs in ``data/`` are real output of this project's Rasa 3.6 (``.venv-rasa``): a server that
could not bind its port, the start of a training run, and the ERROR each gift-button press logged
before the domain's payloads were escaped.
"""

from __future__ import annotations

from pathlib import Path

from techan.rasa_process import log_tail, operator_lines

DATA = Path(__file__).parent / "data"


def sample(name: str) -> list[str]:
    return (DATA / name).read_text().splitlines()


def test_a_real_error_is_kept_and_the_start_up_noise_dropped():
    lines = sample("rasa_console_port_in_use.log")
    assert any("DeprecationWarning" in line for line in lines) and any("jieba" not in line for line in lines)
    assert operator_lines(lines) == [
        "[2026-11-29 23:56:18 +0000] [31798] [ERROR] Unable to start server",
        "OSError: [Errno 98] error while attempting to bind on address ('127.0.0.1', 53021): "
        "address already in use"]


def test_training_chatter_and_the_accepted_form_warning_are_dropped():
    lines = sample("rasa_train_start.log")
    assert any("UserWarning: The utterance 'utter_ask_budget' is not used" in line for line in lines)
    assert operator_lines(lines) == []


def test_an_error_record_of_rasa_is_kept_and_repeats_fold():
    line = sample("rasa_console_interpolator_error.log")[0]
    noise = sample("rasa_train_start.log")
    assert operator_lines([line, *noise, line, line]) == [f"{line}  (×3)"]  # noise between repeats is gone too
    assert operator_lines(["Traceback (most recent call last):", "  File \"x.py\", line 1, in <module>",
                           "KeyError: 'x'", line]) == ["KeyError: 'x'", line]


def test_warnings_of_rasa_itself_and_crashes_are_kept():
    lines = ["2026-11-29 23:56:18 INFO     root  - Rasa server is up and running.",
             "2026-11-29 23:56:19 WARNING  rasa.core.actions.action  - Failed to run custom action "
             "'action_answer_question'. Action server responded with a non 200 status code of 500.",
             "\x1b[91mCould not load model due to Model file not found.\x1b[0m",
             "2026-11-29 23:56:20.123456: W tensorflow/core/framework/cpu_allocator_impl.cc:82] "
             "Allocation of 40960000 exceeds 10% of free system memory.",
             "2026-11-29 23:56:20.123456: F tensorflow/core/platform/cpu_feature_guard.cc:37] "
             "The TensorFlow library was compiled to use AVX instructions, but these aren't available.",
             "Killed"]
    kept = operator_lines(lines)
    assert [line[:30] for line in kept] == [line.replace("\x1b[91m", "")[:30] for line in
                                            (lines[1], lines[2], lines[4], lines[5])]


def test_log_tail_shows_the_filtered_lines_or_how_far_rasa_got(tmp_path: Path):
    console = tmp_path / "console.log"
    console.write_text((DATA / "rasa_console_port_in_use.log").read_text())
    shown = log_tail(console)
    assert "address already in use" in shown and "DeprecationWarning" not in shown and "jieba" not in shown
    console.write_text((DATA / "rasa_train_start.log").read_text())
    shown = log_tail(console)
    assert shown.startswith("no warnings or errors") and "Story structure validation" in shown
    assert "Warning" not in shown
    assert log_tail(tmp_path / "missing.log") == ""
