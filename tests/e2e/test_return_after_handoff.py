"""After a person, the bot answers the next question once and correctly: three handoff rounds on one customer.

The rounds end the three ways a chat leaves staff: staff resolve it, the customer cancels while
waiting, and a staff takeover is resolved. Each next question must get exactly one reply, with the
right answer: Rasa used to repeat it nine times (its circuit breaker) and then hand the chat back.
"""

from __future__ import annotations

import itertools
import json
import urllib.request
import uuid

import pytest

from actions.knowledge import NO_ANSWER, NOT_SURE
from core.language import CJK
from tests.e2e.test_channel_telegram import replies_after, say, sent_to, wait_for
from tests.stack import staff_token

# One question per round and language, with a fragment its right answer contains.
ROUNDS = {
    "zh": [("运费怎么算？", "199"), ("可以开发票吗", "发票"), ("真空包装要加钱吗", "免费")],
    "en": [("How much is shipping?", "199"), ("Can I get an invoice?", "invoice"),
           ("Is vacuum packing free?", "free")],
}
ASK_PERSON = {"zh": "转人工", "en": "I want to talk to a person"}
CANCEL = {"zh": "取消", "en": "cancel"}
_telegram_customers = itertools.count(8900001)


def call(stack, method: str, path: str, token: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"{stack.app_url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def conversation_of(stack, channel: str, external_id: str) -> int:
    return stack.query("SELECT c.id FROM conversations c JOIN customers u ON c.customer_id = u.id "
                       "WHERE u.channel = :channel AND u.external_id = :external_id ORDER BY c.id DESC LIMIT 1",
                       channel=channel, external_id=external_id)[0][0]


def bot_texts_after(stack, conversation_id: int, question: str) -> list[str]:
    """What the shop stored as its replies to the newest ``question`` of the conversation."""
    asked = stack.query("SELECT max(id) FROM messages WHERE conversation_id = :conversation AND direction = 'in' "
                        "AND text = :question", conversation=conversation_id, question=question)[0][0]
    return [text for (text,) in stack.query(
        "SELECT text FROM messages WHERE conversation_id = :conversation AND id > :asked AND author = 'bot' "
        "ORDER BY id", conversation=conversation_id, asked=asked)]


def end_round(stack, token: str, conversation_id: int, how: str, customer_cancels) -> None:
    """Take the conversation to staff and back in one of the three ways."""
    if how == "resolve":
        handoff = next(h for h in call(stack, "GET", "/api/handoffs", token)["handoffs"]
                       if h["conversation_id"] == conversation_id)
        call(stack, "POST", f"/api/handoffs/{handoff['id']}/claim", token)
        call(stack, "POST", f"/api/conversations/{conversation_id}/messages", token, {"text": "您好，我来帮您看看"})
        call(stack, "POST", f"/api/conversations/{conversation_id}/resolve", token)
    elif how == "cancel":
        customer_cancels()
    else:  # takeover: staff step in while the bot is answering
        call(stack, "POST", f"/api/conversations/{conversation_id}/takeover", token)
        call(stack, "POST", f"/api/conversations/{conversation_id}/messages", token, {"text": "我来接着为您服务"})
        call(stack, "POST", f"/api/conversations/{conversation_id}/resolve", token)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_web_chat_gets_one_right_answer_after_each_of_three_handoffs(stack, language):
    who = "e2e-back-" + uuid.uuid4().hex[:10]
    token = staff_token(stack)
    _status, first = stack.chat(who, {"text": ROUNDS[language][0][0]})
    conversation_id = conversation_of(stack, "web", who)
    for (question, fragment), how in zip(ROUNDS[language], ("resolve", "cancel", "takeover")):
        if how != "takeover":
            _status, body = stack.chat(who, {"text": ASK_PERSON[language]})
            assert body["state"] == "waiting", body
        end_round(stack, token, conversation_id, how,
                  lambda: stack.chat(who, {"text": CANCEL[language]}))
        status, body = stack.chat(who, {"text": question})
        assert status == 200 and body["state"] == "bot", (how, body)
        texts = [r["text"] for r in body["replies"]]
        assert len(texts) == 1, (how, texts)
        assert fragment.lower() in texts[0].lower(), (how, texts)
        if language == "en":
            assert not CJK.search(texts[0].replace("元", "")), (how, texts)
        assert bot_texts_after(stack, conversation_id, question) == texts, how
    handoffs = call(stack, "GET", f"/api/conversations/{conversation_id}", token)
    assert "bot_unavailable" not in json.dumps(handoffs)


def test_telegram_gets_one_right_answer_after_each_of_three_handoffs(stack, telegram):
    customer = next(_telegram_customers)
    token = staff_token(stack)
    replies_after(telegram, customer, say(telegram, customer, "你好"))
    conversation_id = conversation_of(stack, "telegram", str(customer))
    for (question, fragment), how in zip(ROUNDS["zh"], ("resolve", "cancel", "takeover")):
        if how != "takeover":
            queued = replies_after(telegram, customer, say(telegram, customer, "转人工"), count=2)
            assert "第" in queued[-1]["text"], queued

        def cancel() -> None:
            replies_after(telegram, customer, say(telegram, customer, "取消"))

        end_round(stack, token, conversation_id, how, cancel)
        # Staff texts, rating prompts and notices reach the chat first; then the question.
        wait_for(lambda: not _pending(stack, conversation_id))
        before = say(telegram, customer, question)
        answer = replies_after(telegram, customer, before)
        wait_for(lambda: bot_texts_after(stack, conversation_id, question))
        stored = bot_texts_after(stack, conversation_id, question)
        assert len(stored) == 1 and fragment in stored[0], (how, stored)
        sent = sent_to(telegram, customer)[before:]
        assert [m.get("text") for m in sent] == [answer[0]["text"]] and fragment in answer[0]["text"], (how, sent)


def _pending(stack, conversation_id: int) -> bool:
    return bool(stack.query("SELECT count(*) FROM messages WHERE conversation_id = :conversation "
                            "AND direction = 'out' AND delivery_status = 'pending'", conversation=conversation_id)[0][0])


def test_a_gift_form_open_at_the_handoff_is_closed_after_it(stack):
    """The form asked 「是什么场合送呢？」 after every answer once staff had resolved the chat."""
    who = "e2e-form-" + uuid.uuid4().hex[:10]
    token = staff_token(stack)
    _status, asked = stack.chat(who, {"text": "想买点礼物送人"})
    assert any("送给谁" in (r["text"] or "") for r in asked["replies"]), asked
    _status, body = stack.chat(who, {"text": "转人工"})
    assert body["state"] == "waiting"
    end_round(stack, token, conversation_of(stack, "web", who), "resolve", None)
    _status, body = stack.chat(who, {"text": "运费怎么算？"})
    texts = [r["text"] for r in body["replies"]]
    assert len(texts) == 1 and "199" in texts[0], texts
    _status, body = stack.chat(who, {"text": "可以开发票吗"})
    texts = [r["text"] for r in body["replies"]]
    assert len(texts) == 1 and "发票" in texts[0] and "场合" not in texts[0] and "送给谁" not in texts[0], texts


def test_a_gift_question_after_a_person_starts_afresh_among_the_kinds_it_names(stack):
    """The walkthrough: after a handoff, "红茶和绿茶哪个更适合送长辈" got walnuts and jujubes picked for the earlier
    春节, under-100 request. Now the old search is forgotten and the picks are the red and green teas asked about."""
    who = "e2e-gift-back-" + uuid.uuid4().hex[:10]
    token = staff_token(stack)
    _status, first = stack.chat(who, {"text": "想给长辈买点过年送的，100以内"})
    assert [p for r in first["replies"] for p in r["products"]], first
    _status, body = stack.chat(who, {"text": "转人工"})
    assert body["state"] == "waiting"
    end_round(stack, token, conversation_of(stack, "web", who), "resolve", None)
    # (which of the two is better is a judgement the guard sends to the knowledge base; ideas asked among them stay a gift)
    _status, body = stack.chat(who, {"text": "红茶和绿茶 有什么适合送长辈的推荐吗"})
    texts = [r["text"] for r in body["replies"]]
    assert texts == ["是什么场合送呢？"], texts  # asked afresh, not the old 春节 and 100以内
    stack.chat(who, {"text": "/inform{\"occasion\": \"any\"}"})
    _status, body = stack.chat(who, {"text": "/inform{\"budget\": \"any\"}"})
    cards = [p for r in body["replies"] for p in r["products"]]
    categories = {c["id"]: stack.query("SELECT category FROM products WHERE id = :id", id=c["id"])[0][0] for c in cards}
    assert len(cards) == 3 and set(categories.values()) == {"tea"}, [c["name"] for c in cards]


@pytest.mark.parametrize("typed", ["/out_of_scope", "/no_such_intent"])
def test_a_turn_no_rule_covers_gets_one_reply(stack, typed):
    """An intent no rule names (one Rasa knows by default, or none at all) gets one reply: Rasa ran its core
    fallback, the knowledge base's answer, again and again — two misses, then the chat went to staff. The next
    question is a normal turn."""
    who = "e2e-norule-" + uuid.uuid4().hex[:10]
    status, body = stack.chat(who, {"text": typed})
    texts = [r["text"] for r in body["replies"]]
    assert status == 200 and body["state"] == "bot" and len(texts) == 1, body
    if typed == "/out_of_scope":  # the fallback: nothing to look up, so the knowledge base has no answer
        assert texts[0] in (NO_ANSWER.to("zh"), NOT_SURE.to("zh")), texts
    _status, body = stack.chat(who, {"text": "运费怎么算？"})
    texts = [r["text"] for r in body["replies"]]
    assert len(texts) == 1 and "199" in texts[0], texts
