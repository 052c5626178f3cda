"""Quiet logs and a clean Ctrl-C, on a stack of their own (`techan run` in its own process group).

The first test has a normal conversation (questions, the gift form through its buttons, a handoff and
the bot's return) and finds no ERROR line in the app's log or Rasa's. The second sends SIGINT to the
whole process group, as a terminal's Ctrl-C does, while a customer's turn is in flight (the Rasa
server is paused with SIGSTOP so that the turn stays in flight), and again during the drain: the
stack exits 0, the message has its reply, a message sent during the drain is refused before it is
stored, and the log says what was drained.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import uuid

import pytest

from tests.e2e.test_channel_telegram import wait_for
from tests.e2e.test_stack import call
from tests.stack import Stack, child_pids, staff_token, start_stack, stop_stack

ERROR_LINE = re.compile(r"\bERROR\b|\bCRITICAL\b|^Traceback ", re.M)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    # A longer Rasa timeout than the default 10 s: the paused Rasa turn must outlast the test's steps.
    running = start_stack(tmp_path_factory.mktemp("shutdown"), {"TECHAN_RASA_TIMEOUT": "25"})
    yield running
    stop_stack(running)


def sender() -> str:
    return "e2e-stop-" + uuid.uuid4().hex[:10]


def rasa_logs(stack: Stack) -> str:
    return "".join((stack.data_dir / "rasa" / name).read_text(errors="replace")
                   for name in ("console.log", "rasa.log") if (stack.data_dir / "rasa" / name).exists())


def test_a_normal_conversation_leaves_no_error_in_either_log(own_stack):
    stack, who = own_stack, sender()
    for question in ("你好", "普洱茶保质期多久？", "Can you vacuum pack the beef jerky?", "寄到常州要几天"):
        status, body = stack.chat(who, {"text": question})
        assert status == 200 and body["replies"], body
    _, body = stack.chat(who, {"text": "我想送礼"})
    assert body["replies"][0]["buttons"], body  # who is it for? (buttons)
    for payload in ('/inform{"recipient": "boss"}', '/inform{"occasion": "mid_autumn"}',
                    '/inform{"budget": "300-500"}', "/request_gift"):  # tapped buttons, then 换一批
        status, body = stack.chat(who, {"payload": payload})
        assert status == 200 and body["replies"], (payload, body)
    assert any(r["products"] for r in body["replies"]), body
    _, body = stack.chat(who, {"text": "转人工"})
    assert body["state"] == "waiting", body
    token = staff_token(stack)
    mine = next(h for h in call(stack.app_url, "GET", "/api/handoffs", token)["handoffs"] if "我想送礼" in h["summary"])
    call(stack.app_url, "POST", f"/api/handoffs/{mine['id']}/claim", token)
    call(stack.app_url, "POST", f"/api/conversations/{mine['conversation_id']}/messages", token, {"text": "您好，我来帮您"})
    call(stack.app_url, "POST", f"/api/conversations/{mine['conversation_id']}/resolve", token)
    _, body = stack.chat(who, {"text": "可以开发票吗"})
    assert body["state"] == "bot" and "发票" in body["replies"][0]["text"], body

    app_log = "".join(stack.output)
    assert not ERROR_LINE.search(app_log), [line for line in app_log.splitlines() if ERROR_LINE.search(line)]
    rasa_log = rasa_logs(stack)
    assert "Rasa server is up and running" in rasa_log
    assert not ERROR_LINE.search(rasa_log), [line[:300] for line in rasa_log.splitlines() if ERROR_LINE.search(line)]


def _child_pid(stack: Stack, command: str) -> int:
    pids = child_pids(stack, command)
    assert len(pids) == 1, f"{command!r} under the supervisor: {pids}"
    return pids[0]


def _unanswered(stack: Stack) -> list[str]:
    """Customer messages with no later bot or staff message in their conversation: stored but unanswered."""
    return [text for (text,) in stack.query(
        "SELECT m.text FROM messages m WHERE m.direction = 'in' AND NOT EXISTS (SELECT 1 FROM messages r "
        "WHERE r.conversation_id = m.conversation_id AND r.direction = 'out' AND r.id > m.id)")]


def _stored(stack: Stack, who: str) -> list[str]:
    return [text for (text,) in stack.query(
        "SELECT m.text FROM messages m JOIN conversations c ON m.conversation_id = c.id JOIN customers u "
        "ON c.customer_id = u.id WHERE u.external_id = :who AND m.direction = 'in' ORDER BY m.id", who=who)]


def test_ctrl_c_to_the_process_group_drains_the_turn_in_flight(own_stack):
    stack, who, late = own_stack, sender(), sender()
    assert stack.chat(who, {"text": "你好"})[0] == 200
    rasa = _child_pid(stack, "rasa run")
    group = os.getpgid(stack.process.pid)
    assert group == stack.process.pid  # start_stack gives `techan run` a session of its own
    result: dict = {}
    turn = threading.Thread(target=lambda: result.update(reply=stack.chat(who, {"text": "运费怎么算？"})))
    os.kill(rasa, signal.SIGSTOP)  # the turn cannot finish until Rasa goes on
    try:
        turn.start()
        wait_for(lambda: "运费怎么算？" in _stored(stack, who), 10)
        mark = len(stack.output)
        os.killpg(group, signal.SIGINT)  # Ctrl-C: every process of the terminal's group gets it
        wait_for(lambda: "waiting for 1 request in flight" in "".join(stack.output[mark:]), 10)
        status, body = stack.chat(late, {"text": "还在吗"})  # during the drain: refused, nothing stored
        assert status == 503 and "重启" in body["error"], body
        os.killpg(group, signal.SIGINT)  # a second Ctrl-C: reported, and the drain goes on
        wait_for(lambda: "still stopping" in "".join(stack.output[mark:]), 10)
        assert stack.process.poll() is None and turn.is_alive()
    finally:
        os.kill(rasa, signal.SIGCONT)
    assert stack.process.wait(timeout=90) == 0
    turn.join(timeout=30)
    status, body = result["reply"]
    assert status == 200 and body["state"] == "bot" and body["replies"], body
    assert stack.last_bot_payload(who)["meta"]["kb"][0]["id"] == "shipping-fee"
    assert _stored(stack, late) == [] and _unanswered(stack) == []
    output = "".join(stack.output[mark:])
    print(output)  # shown when a check below fails
    assert "waited for 1 request in flight" in output and "refused 1 new request" in output, output
    assert re.search(r"stopping: stopped app, stopped rasa", output), output
    with pytest.raises(ProcessLookupError):
        os.kill(rasa, 0)  # Rasa stopped too
    for log in ("".join(stack.output), rasa_logs(stack)):  # stopping is normal operation: no ERROR either
        assert not ERROR_LINE.search(log), [line[:300] for line in log.splitlines() if ERROR_LINE.search(line)]
