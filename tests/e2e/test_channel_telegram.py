"""A customer on Telegram talking to the real bot (app + Rasa), through a fake Bot API server."""

from __future__ import annotations

import itertools
import re
import time

from tests.fake_telegram import FakeBotAPI

_customers = itertools.count(8800001)


def wait_for(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"still waiting after {timeout:.0f} s")


def sent_to(telegram, chat_id: int, method: str | None = None) -> list[dict]:
    return telegram.call(lambda api: list(FakeBotAPI.sent(api, method, chat_id)))


def say(telegram, chat_id: int, text: str) -> int:
    """The customer sends ``text``; returns how many messages the bot had sent them before."""
    before = len(sent_to(telegram, chat_id))
    telegram.call(lambda api: api.text(chat_id, text))
    return before


def replies_after(telegram, chat_id: int, before: int, count: int = 1) -> list[dict]:
    return wait_for(lambda: (lambda sent: sent[before:] if len(sent) >= before + count else None)(
        sent_to(telegram, chat_id)))


def test_a_conversation_with_buttons(stack, telegram):
    customer = next(_customers)
    greeting = replies_after(telegram, customer, say(telegram, customer, "/start"))
    assert "智能助手" in greeting[0]["text"]
    answer = replies_after(telegram, customer, say(telegram, customer, "普洱茶保质期多久？"))
    assert "普洱茶" in answer[0]["text"] and "长期存放" in answer[0]["text"]

    asked = replies_after(telegram, customer, say(telegram, customer, "想买点礼物"))
    question = next(m for m in asked if "reply_markup" in m)
    assert "送给谁" in question["text"]
    buttons = [b for row in question["reply_markup"]["inline_keyboard"] for b in row]
    parents = next(b for b in buttons if b["text"] == "父母")
    before = len(sent_to(telegram, customer, "sendMessage"))
    telegram.call(lambda api: api.press(customer, question["_result"], parents["callback_data"]))
    follow_up = wait_for(lambda: sent_to(telegram, customer, "sendMessage")[before:])
    assert "什么场合" in follow_up[0]["text"]  # the form asks only what is still missing
    removed = telegram.call(lambda api: FakeBotAPI.sent(api, "editMessageReplyMarkup", customer))
    assert removed and removed[-1]["message_id"] == str(question["_result"]["message_id"])


def test_a_gift_recommendation_comes_as_photos_and_more_like_this_shows_others(stack, telegram):
    """Three cards, each a photo with its price as the shop writes it and its own 问问这个; the reply's buttons
    on a message of their own after them (not under the third card); 换一批 shows three others."""
    customer = next(_customers)
    before = say(telegram, customer, "想给爸妈买点过年送的，三百左右")
    photos = wait_for(lambda: (lambda p: p if len(p) >= 3 else None)(sent_to(telegram, customer, "sendPhoto")))
    assert all(p["photo"]["file"].endswith(".png") and p["parse_mode"] == "MarkdownV2" for p in photos)
    assert all(re.search(r"  \d+元\n", p["caption"]) for p in photos), [p["caption"] for p in photos]
    asks = [[b for row in p["reply_markup"]["inline_keyboard"] for b in row] for p in photos]
    assert [[b["text"] for b in buttons] for buttons in asks] == [["问问这个"]] * 3
    assert len({b[0]["callback_data"] for b in asks}) == 3
    shared = wait_for(lambda: next((m for m in sent_to(telegram, customer, "sendMessage")[before:]
                                    if m.get("reply_markup") and m["text"] == "👇"), None))
    more = next(b for row in shared["reply_markup"]["inline_keyboard"] for b in row if b["text"] == "换一批")
    telegram.call(lambda api: api.press(customer, shared["_result"], more["callback_data"]))
    again = wait_for(lambda: (lambda p: p[3:] if len(p) >= 6 else None)(sent_to(telegram, customer, "sendPhoto")))
    assert not {p["caption"] for p in photos} & {p["caption"] for p in again}
    assert before == 0

    name = again[1]["caption"].split("*")[1].replace("\\", "")  # the second card's name, unescaped
    ask = again[1]["reply_markup"]["inline_keyboard"][0][0]
    # the reply ends with its 👇 buttons, a second after the last card (the chat's pace): then the tap
    wait_for(lambda: [m for m in sent_to(telegram, customer, "sendMessage") if m["text"] == "👇"][1:])
    asked = len(sent_to(telegram, customer, "sendMessage"))
    telegram.call(lambda api: api.press(customer, again[1]["_result"], ask["callback_data"]))
    answer = wait_for(lambda: sent_to(telegram, customer, "sendMessage")[asked:])
    assert name in answer[0]["text"], (name, answer[0]["text"])  # about that product
