"""Answer feedback pieces that need no server: which answers get buttons, the payload, repeats, Telegram rows."""

from __future__ import annotations

import pytest

from handoff import feedback
from handoff.channels.telegram.sending import keyboard
from handoff.metrics import same_question_key
from handoff.router import Reply


@pytest.mark.parametrize(("meta", "knowledge"), [
    ({"kb": [{"id": "puer-shelf-life", "score": 0.8}]}, True),
    ({"kb": [{"id": "x", "score": 0.3}], "unsure": True}, False),
    ({"kb": [], "catalog": "beef-jerky"}, True),
    ({"kb": [], "family": "普洱茶"}, True),
    ({"kb": [{"id": "shipping-fee", "score": 0.5}], "shipping": True}, True),
    ({"not_sold": "熊猫玩偶"}, False),
    ({}, False),
])
def test_which_answers_are_knowledge_answers(meta, knowledge):
    assert feedback.is_knowledge_answer(meta) is knowledge


def test_only_a_kb_answer_names_the_entry_that_answered():
    assert feedback.answering_entry({"kb": [{"id": "a", "score": 0.9}, {"id": "b", "score": 0.5}]}) == "a"
    assert feedback.answering_entry({"kb": [{"id": "a", "score": 0.4}], "catalog": "beef-jerky"}) is None
    assert feedback.answering_entry({"kb": [{"id": "a", "score": 0.4}], "unsure": True}) is None


def test_the_payload_names_the_message_fits_telegram_and_reads_back():
    longest = feedback.payload(2**53, False)
    assert longest == '/feedback{"message":9007199254740992,"helpful":false}' and len(longest.encode()) <= 64
    assert feedback.parse(feedback.payload(123, True)) == (123, True)
    assert feedback.parse('/feedback{"message": 7, "helpful": false}') == (7, False)
    for bad in ("/feedback", '/feedback{"message":"7","helpful":true}', '/feedback{"message":7,"helpful":1}',
                '/feedback{"message":true,"helpful":true}', "/feedback[1,2]", "/feedback{",
                "/feedback" + "[" * 5000, '/feedback{"message":' + "9" * 30 + ',"helpful":true}'):
        assert feedback.parse(bad) is None


def test_buttons_in_each_language_and_only_public_when_present():
    assert [b["title"] for b in feedback.buttons(5, "zh")] == ["有用", "没用"]
    assert [b["title"] for b in feedback.buttons(5, "en")] == ["Helpful", "Not helpful"]
    assert "feedback" not in Reply("答案").public()
    assert Reply("答案", feedback=feedback.buttons(5, "zh")).public()["feedback"][1]["payload"] == \
        '/feedback{"message":5,"helpful":false}'


def test_the_same_question_ignores_punctuation_spaces_case_and_traditional_characters():
    assert same_question_key("普洱茶保质期多久？") == same_question_key(" 普洱茶 保质期多久 ") != ""
    assert same_question_key("發到廣州要幾天？") == same_question_key("发到广州要几天")
    assert same_question_key("How long does it KEEP?") == same_question_key("how long does it keep")
    assert same_question_key("普洱茶保质期多久") != same_question_key("普洱茶怎么保存")
    assert same_question_key("？？！") == ""


def test_telegram_puts_the_feedback_pair_on_one_row_under_the_other_buttons():
    markup = keyboard([{"title": "找店员", "payload": "/request_human"}], feedback.buttons(42, "zh"))
    rows = [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard]
    assert rows == [[("找店员", "/request_human")],
                    [("有用", '/feedback{"message":42,"helpful":true}'), ("没用", '/feedback{"message":42,"helpful":false}')]]
    assert keyboard([], feedback.buttons(1, "en")).inline_keyboard[0][1].text == "Not helpful"
    assert keyboard([]) is None
