"""Messages sent while the real Rasa server is still loading its model get the bot's answers, not staff.

Its own stack (`techan run` on free ports, a scratch data dir), used from the moment the app answers:
the Rasa server then needs 70-100 s on 2 cores to load the model.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.test_stack import call
from tests.stack import READY_TIMEOUT_S, answers, json_value, release_rasa, staff_token, start_stack, stop_stack

NOTICE_ZH = {"text": "稍等，助手马上就好", "buttons": [], "image": None, "products": []}
NOTICE_EN = {"text": "One moment — the assistant is almost ready", "buttons": [], "image": None, "products": []}
# question -> the KB entries that rightly answer it (as in test_stack)
QUESTIONS = {"普洱茶保质期多久？": {"puer-shelf-life"}, "牛肉干能抽真空吗": {"beef-jerky-vacuum"}}
ENGLISH = ("Can you vacuum pack the beef jerky?", {"beef-jerky-vacuum"})


def fetch(stack, sender: str) -> dict:
    status, answer = stack.customers.request(sender, "/messages?after=0")
    assert status == 200, answer
    return answer


def answered_from(stack, sender: str) -> list[str]:
    """The top KB entry of each stored bot answer to ``sender``, in order."""
    payloads = stack.query(
        "SELECT m.payload FROM messages m JOIN conversations c ON m.conversation_id = c.id "
        "JOIN customers u ON c.customer_id = u.id WHERE u.external_id = :sender AND m.author = 'bot' "
        "ORDER BY m.id", sender=sender)
    return [json_value(p)["meta"]["kb"][0]["id"] for (p,) in payloads]


@pytest.mark.timeout(2 * READY_TIMEOUT_S + 120)  # the app's start, then the model load (both bounded below)
def test_messages_sent_while_rasa_loads_are_answered_by_the_bot_once_it_is_ready(tmp_path):
    # The default grace (60 s) holds; while `techan run` reports Rasa loading, a longer one does. A busy
    # test machine can take longer than its default (180 s) to load the model, so this stack allows more.
    # The Rasa server is held (stopped) from its start until the messages are in: loading, on any machine.
    stack = start_stack(tmp_path, {"TECHAN_BOT_LOADING_GRACE_S": "600"}, wait_for_rasa=False, hold_rasa=True)
    try:
        zh, en = "e2e-warm-" + uuid.uuid4().hex[:8], "e2e-warm-" + uuid.uuid4().hex[:8]
        assert not answers(f"{stack.rasa_url}/"), "the Rasa server was ready before the test could ask"
        (first, first_kb), (second, second_kb) = QUESTIONS.items()
        assert stack.chat(zh, {"text": first, "client_id": "warm-00001"}) == (
            200, {"state": "bot", "replies": [NOTICE_ZH], "pending": True})
        assert stack.chat(zh, {"text": second, "client_id": "warm-00002"}) == (
            200, {"state": "bot", "replies": [], "pending": True})
        assert stack.chat(en, {"text": ENGLISH[0]}) == (200, {"state": "bot", "replies": [NOTICE_EN], "pending": True})
        assert stack.chat(zh, {"text": first, "client_id": "warm-00001"}) == (  # the page's retry: the same message
            200, {"state": "bot", "replies": [], "pending": True})
        release_rasa(stack)

        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and (fetch(stack, zh)["pending"] or fetch(stack, en)["pending"]):
            time.sleep(1)
        assert answers(f"{stack.rasa_url}/"), "".join(stack.output[-30:])
        chinese, english = fetch(stack, zh), fetch(stack, en)
        assert chinese["state"] == english["state"] == "bot" and not chinese["pending"] and not english["pending"]
        assert [m["author"] for m in chinese["messages"]] == ["bot", "bot"]
        assert [m["author"] for m in english["messages"]] == ["bot"]
        top = answered_from(stack, zh) + answered_from(stack, en)
        assert top[0] in first_kb and top[1] in second_kb and top[2] in ENGLISH[1], top
        assert not any("稍等" in m["text"] or "转给店员" in m["text"] for m in chinese["messages"])
        assert "vacuum pack" in english["messages"][0]["text"], english  # answered in English
        token = staff_token(tmp_path)
        assert call(stack.app_url, "GET", "/api/handoffs", token)["handoffs"] == []  # nobody went to staff
        assert stack.query("SELECT count(*) FROM messages WHERE direction = 'in'") == [(3,)]
        assert stack.query("SELECT count(*) FROM messages WHERE direction = 'in' "
                           "AND delivery_status = 'pending'") == [(0,)]
    finally:
        stop_stack(stack)
