"""Customers say whether an answer helped (web chat and Telegram); the owner's inbox and metrics follow.

Rasa is replaced by tests/service/fake_rasa.py, which runs the real answer and handoff actions, so the
answers, their provenance and the buttons are the ones customers get.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from actions.knowledge import closest_question
from handoff.rasa_client import RasaUnavailable
from handoff.router import FEEDBACK_AGAIN_TEXT, FEEDBACK_REFUSED_TEXT, HELPFUL_THANKS_TEXT, NOT_HELPFUL_TEXT
from handoff.router import ROUTER
from knowledge.live import KNOWLEDGE
from techan.app import create_app
from core.db import Conversation, Customer, KBEntry, Message, UnansweredQuestion
from tests.fake_telegram import TOKEN, FakeBotAPI
from tests.service.conftest import bot_conversation, db_session, migrated_demo_shop
from tests.service.fake_rasa import use_fake_rasa
from tests.service.test_kb_admin import bearer
from tests.service.test_telegram import eventually

PUER = "普洱茶保质期多久？"
PUER_ANSWER = ("普洱茶（生茶和熟茶）在干燥、通风、无异味的环境下可以长期存放，没有固定的过期时间；生普越陈越香，"
               "熟普放两三年后更醇和。包装上印的保质期是国家规定要写的，存放得当过了日期也可以喝。")
PANDA = "我家狗能吃牛肉干吗"  # the demo shop has no answer: the bot is unsure ("not sold" is an answer)
PETS_ENTRY = {"topic": "other", "questions": ["狗能吃牛肉干吗", "宠物能不能吃牛肉干"], "tags": [],
              "answer": "不建议给狗吃：牛肉干有盐和香辛料，对宠物的肠胃负担大。"}
ASK_HUMAN = {"title": "找店员", "payload": "/request_human"}


@pytest.fixture
async def bot(client):
    use_fake_rasa(client.server.app)
    return client


async def say(client, sender: str, text: str | None = None, payload: str | None = None) -> dict:
    response = await client.post(f"/api/chat/{sender}", json={"payload": payload} if payload else {"text": text})
    assert response.status == 200
    answer = await response.json()
    answer.pop("chat_token", None)  # a new sender's token (the jar keeps its cookie): test_chat_identity's business
    return answer


def stored_bot_message(settings, message_id: int) -> Message:
    with db_session(settings) as session:
        return session.get(Message, message_id)


def message_id_of(button: dict) -> int:
    return json.loads(button["payload"].removeprefix("/feedback"))["message"]


def expected_questions(client, entry_ids: list[str], language: str = "zh") -> list[str]:
    entries = {e.id: e for e in client.server.app[KNOWLEDGE].index.entries}
    return [closest_question(entries[i], language) for i in entry_ids]


# ---------------------------------------------------------------- the buttons

async def test_knowledge_answers_carry_the_two_buttons_naming_the_stored_answer(bot, settings):
    reply = (await say(bot, "web-fb1", PUER))["replies"][0]
    assert reply["text"] == PUER_ANSWER
    assert [b["title"] for b in reply["feedback"]] == ["有用", "没用"]
    message_id = message_id_of(reply["feedback"][0])
    assert [b["payload"] for b in reply["feedback"]] == [f'/feedback{{"message":{message_id},"helpful":true}}',
                                                         f'/feedback{{"message":{message_id},"helpful":false}}']
    assert all(len(b["payload"].encode()) <= 64 for b in reply["feedback"])  # Telegram's callback data limit
    answer = stored_bot_message(settings, message_id)
    assert (answer.author, answer.text) == ("bot", PUER_ANSWER) and answer.payload["meta"]["kb"]
    assert "feedback" not in answer.payload and "feedback" not in answer.payload["meta"]

    catalog = (await say(bot, "web-fb1", "牛肉干多少钱"))["replies"][0]  # a catalog summary with its card
    assert catalog["products"][0]["id"] == "beef-jerky" and [b["title"] for b in catalog["feedback"]] == ["有用", "没用"]
    shipping = (await say(bot, "web-fb1", "寄到北京要几天？"))["replies"][0]  # a shipping-table quote
    assert shipping["text"].startswith("寄到北京") and len(shipping["feedback"]) == 2

    english = (await say(bot, "web-fb-en", "How long does the beef jerky keep?"))["replies"][0]
    assert english["text"].startswith("Shelf life of the Inner Mongolia Air-dried Beef Jerky")
    assert [b["title"] for b in english["feedback"]] == ["Helpful", "Not helpful"]


async def test_unsure_answers_and_handoffs_get_no_feedback_buttons(bot):
    unsure = (await say(bot, "web-fb2", PANDA))["replies"]
    assert unsure[0]["text"].startswith("这个问题我不太确定") and "feedback" not in unsure[0]
    handoff = await say(bot, "web-fb2", "转人工")
    assert handoff["state"] == "waiting" and all("feedback" not in r for r in handoff["replies"])


# ---------------------------------------------------------------- 有用, 没用, twice, someone else's

async def test_helpful_is_stored_on_the_answer_and_thanked(bot, settings):
    reply = (await say(bot, "web-fb3", PUER))["replies"][0]
    thanks = await say(bot, "web-fb3", payload=reply["feedback"][0]["payload"])
    assert thanks == {"state": "bot", "replies": [
        {"text": HELPFUL_THANKS_TEXT.zh, "buttons": [], "image": None, "products": []}]}
    answer = stored_bot_message(settings, message_id_of(reply["feedback"][0]))
    assert answer.payload["meta"]["feedback"] == "helpful" and answer.payload["meta"]["kb"]
    with db_session(settings) as session:
        assert session.scalars(select(UnansweredQuestion)).all() == []
        assert session.scalars(select(Message.text).where(Message.author == "bot")).all()[-1] == "谢谢您的反馈！"


async def test_not_helpful_offers_the_two_closest_questions_and_a_person_and_reaches_the_inbox(bot, settings):
    reply = (await say(bot, "web-fb4", PUER))["replies"][0]
    message_id = message_id_of(reply["feedback"][1])
    hits = [hit["id"] for hit in stored_bot_message(settings, message_id).payload["meta"]["kb"]]
    sorry = await say(bot, "web-fb4", payload=reply["feedback"][1]["payload"])
    questions = expected_questions(bot, hits[1:3])  # the answer's other hits; hits[0] answered
    assert sorry["replies"] == [{"text": "抱歉没帮上忙。您是想问下面哪一个？也可以直接找店员。",
                                 "buttons": [*({"title": q, "payload": q} for q in questions), ASK_HUMAN],
                                 "image": None, "products": []}]
    assert len(questions) == 2 and PUER not in questions
    assert stored_bot_message(settings, message_id).payload["meta"]["feedback"] == "not_helpful"

    owner = bearer(bot, "fb-owner", "owner")
    groups = (await (await bot.get("/api/kb/unanswered", headers=owner)).json())["groups"]
    assert [(g["texts"], g["reasons"]) for g in groups] == [([PUER], ["not_helpful"])]
    assert [(i["text"], i["reason"], i["answer"]) for i in groups[0]["items"]] == [(PUER, "not_helpful", PUER_ANSWER)]
    with db_session(settings) as session:
        row = session.scalars(select(UnansweredQuestion)).one()
        question = session.get(Message, row.message_id)
        assert (question.text, question.direction, row.answer) == (PUER, "in", PUER_ANSWER)

    # A tapped question is asked like a typed one: the bot answers it.
    follow_up = await say(bot, "web-fb4", questions[0])
    assert follow_up["replies"][0]["text"] and "feedback" in follow_up["replies"][0]


async def test_an_english_customer_is_answered_in_english(bot):
    reply = (await say(bot, "web-fb-en2", "How long does the beef jerky keep?"))["replies"][0]
    sorry = (await say(bot, "web-fb-en2", payload=reply["feedback"][1]["payload"]))["replies"][0]
    assert sorry["text"] == "Sorry that didn't help. Did you mean one of these? You can also ask our staff."
    assert sorry["buttons"][-1] == {"title": "Ask staff", "payload": "/request_human"} and len(sorry["buttons"]) == 3
    thanks = await say(bot, "web-fb-en2", payload=reply["feedback"][0]["payload"])
    assert thanks["replies"][0]["text"] == FEEDBACK_AGAIN_TEXT.en


async def test_a_second_tap_changes_nothing_and_says_so(bot, settings):
    reply = (await say(bot, "web-fb5", PUER))["replies"][0]
    await say(bot, "web-fb5", payload=reply["feedback"][1]["payload"])
    for button in (reply["feedback"][1], reply["feedback"][0]):  # the same again, then the other one
        again = await say(bot, "web-fb5", payload=button["payload"])
        assert again["replies"] == [{"text": "这条回答您已经评价过了，谢谢！", "buttons": [], "image": None, "products": []}]
    answer = stored_bot_message(settings, message_id_of(reply["feedback"][0]))
    assert answer.payload["meta"]["feedback"] == "not_helpful"
    with db_session(settings) as session:
        assert len(session.scalars(select(UnansweredQuestion)).all()) == 1


async def test_another_customers_answer_and_other_messages_are_refused_quietly(bot, settings):
    reply = (await say(bot, "web-fb6", PUER))["replies"][0]
    unsure_reply = await say(bot, "web-fb6", PANDA)
    with db_session(settings) as session:
        unsure_id = session.scalars(select(Message.id).where(Message.author == "bot")).all()[-1]
        question_id = session.scalars(select(Message.id).where(Message.text == PUER)).one()
    assert "feedback" not in unsure_reply["replies"][0]
    refused = {"state": "bot", "replies": [{"text": FEEDBACK_REFUSED_TEXT.zh, "buttons": [], "image": None,
                                            "products": []}]}
    assert await say(bot, "web-other", payload=reply["feedback"][1]["payload"]) == refused  # someone else's
    for payload in (f'/feedback{{"message":{unsure_id},"helpful":false}}',  # not a knowledge answer
                    f'/feedback{{"message":{question_id},"helpful":false}}',  # the customer's own message
                    '/feedback{"message":999999,"helpful":true}', '/feedback{"message":"1","helpful":true}',
                    "/feedback"):
        assert await say(bot, "web-fb6", payload=payload) == refused
    assert "feedback" not in stored_bot_message(settings, message_id_of(reply["feedback"][0])).payload["meta"]
    with db_session(settings) as session:
        assert [q.reason for q in session.scalars(select(UnansweredQuestion))] == ["unsure"]


# ---------------------------------------------------------------- the inbox

async def test_inbox_lists_handoffs_unsure_and_not_helpful_once_each_and_drops_what_the_kb_now_answers(
        bot, settings):
    app, owner = bot.server.app, bearer(bot, "inbox-owner", "owner")
    staff = bearer(bot, "inbox-staff", "staff")
    # unsure, then "转人工" about the same question: one item
    await say(bot, "web-in1", PANDA)
    await say(bot, "web-in1", "转人工")
    # 没用, then "找店员" from the 没用 reply: one item, with the answer it got
    reply = (await say(bot, "web-in2", PUER))["replies"][0]
    await say(bot, "web-in2", payload=reply["feedback"][1]["payload"])
    await say(bot, "web-in2", payload="/request_human")
    # a person asked for right after an answer: the question before it, with that answer
    await say(bot, "web-in3", "运费多少钱？")
    await say(bot, "web-in3", payload="/request_human")
    # Rasa down: handed to staff
    fake, app[ROUTER].rasa = app[ROUTER].rasa, _DownRasa()
    await say(bot, "web-in4", "紫砂壶可以刻字吗")
    app[ROUTER].rasa = fake
    await eventually(lambda: app[ROUTER].bot_down_since is None)  # the sweep sees the bot back
    # staff take over a chat the bot is handling: the customer's question before it
    await say(bot, "web-in5", "牛肉干多少钱")
    with db_session(settings) as session:
        conversation_id = session.scalars(select(Conversation.id).join(Customer).where(
            Customer.external_id == "web-in5")).one()
    assert (await bot.post(f"/api/conversations/{conversation_id}/takeover", headers=staff)).status == 200

    groups = (await (await bot.get("/api/kb/unanswered", headers=owner)).json())["groups"]
    items = {i["text"]: (i["reason"], i["answer"]) for g in groups for i in g["items"]}
    answer_fee = next(m.text for m in _bot_messages(settings, "web-in3"))
    assert items == {PANDA: ("unsure", None), PUER: ("not_helpful", PUER_ANSWER),
                     "运费多少钱？": ("customer_request", answer_fee), "紫砂壶可以刻字吗": ("bot_unavailable", None),
                     "牛肉干多少钱": ("staff_takeover", _first_answer(settings, "web-in5"))}
    assert _first_answer(settings, "web-in5").startswith("内蒙古风干牛肉干")
    ids = [i for g in groups for i in g["ids"]]
    with db_session(settings) as session:
        message_ids = [session.get(UnansweredQuestion, i).message_id for i in ids]
    assert len(ids) == len(set(ids)) == len(set(message_ids)) == 5

    # The owner adds an entry that answers the dog's question: it leaves the inbox on the next read.
    assert (await bot.put("/api/kb/entries/pets-jerky", json=PETS_ENTRY, headers=owner)).status == 200
    groups = (await (await bot.get("/api/kb/unanswered", headers=owner)).json())["groups"]
    assert PANDA not in {t for g in groups for t in g["texts"]} and PUER in {t for g in groups for t in g["texts"]}
    # ...and a new answer to the question marked 没用 takes it out too (the same old answer would not).
    with db_session(settings) as session:
        entry = session.get(KBEntry, stored_hits(settings, "web-in2")[0])
        edited = {"topic": entry.topic, "product": entry.product, "questions": entry.questions,
                  "answer": entry.answer + "开封后请尽快密封保存。", "answer_en": entry.answer_en, "tags": entry.tags}
    assert (await bot.put(f"/api/kb/entries/{entry.id}", json=edited, headers=owner)).status == 200
    groups = (await (await bot.get("/api/kb/unanswered", headers=owner)).json())["groups"]
    assert PUER not in {t for g in groups for t in g["texts"]}


class _DownRasa:
    async def message(self, *_args, **_kwargs):
        raise RasaUnavailable("Rasa unreachable: test")

    async def add_events(self, *_args, **_kwargs):
        return None

    async def reachable(self) -> bool:
        return False


def _bot_messages(settings, sender: str) -> list[Message]:
    with db_session(settings) as session:
        return session.scalars(select(Message).join(Conversation).join(Customer).where(
            Customer.external_id == sender, Message.author == "bot").order_by(Message.id)).all()


def _first_answer(settings, sender: str) -> str | None:
    first = _bot_messages(settings, sender)[0]
    meta = first.payload.get("meta", {})
    return first.text if meta.get("kb") and not meta.get("unsure") else None


def stored_hits(settings, sender: str) -> list[str]:
    return [hit["id"] for hit in _bot_messages(settings, sender)[0].payload["meta"]["kb"]]


# ---------------------------------------------------------------- metrics

async def test_resolved_by_bot_excludes_not_helpful_and_repeated_questions_and_lists_the_worst_entries(
        bot, settings):
    owner = bearer(bot, "metrics-owner", "owner")
    # resolved: answered, 有用
    reply = (await say(bot, "web-m1", PUER))["replies"][0]
    await say(bot, "web-m1", payload=reply["feedback"][0]["payload"])
    # resolved: answered, nothing said
    await say(bot, "web-m2", "运费多少钱？")
    # not resolved: 没用 (twice on the Pu'er entry, once on the fee entry, across three chats)
    for sender, question in (("web-m3", PUER), ("web-m4", PUER), ("web-m5", "运费多少钱？")):
        reply = (await say(bot, sender, question))["replies"][0]
        await say(bot, sender, payload=reply["feedback"][1]["payload"])
    # not resolved: the same question again (punctuation and spaces aside)
    await say(bot, "web-m6", "寄到北京要几天？")
    await say(bot, "web-m6", "寄到 北京要几天")
    # not resolved: a person
    await say(bot, "web-m7", "转人工")

    body = await (await bot.get("/api/metrics?days=2", headers=owner)).json()
    today = body["days"][0]
    assert today["conversations"] == 7 and today["resolved_by_bot"] == 2 and today["resolved_by_bot_rate"] == 0.286
    assert today["bot_only_rate"] == 0.857 and today["with_not_helpful"] == 3 and today["with_repeat"] == 1
    puer, fee = stored_hits(settings, "web-m3")[0], stored_hits(settings, "web-m5")[0]
    with db_session(settings) as session:
        first = {i: session.get(KBEntry, i).questions[0] for i in (puer, fee)}
    period = {key: body["period"][key] for key in (
        "conversations", "resolved_by_bot", "resolved_by_bot_rate", "not_helpful", "most_not_helpful")}
    assert body["period"]["handoffs"] == {**dict.fromkeys(body["period"]["handoffs"], 0), "customer_request": 1}
    assert period == {
        "conversations": 7, "resolved_by_bot": 2, "resolved_by_bot_rate": 0.286, "not_helpful": 3,
        "most_not_helpful": [{"id": puer, "question": first[puer], "count": 2},
                             {"id": fee, "question": first[fee], "count": 1}]}

    page = await (await bot.get("/admin/metrics?days=2", headers=owner)).text()
    assert '<strong id="resolved-rate">29%</strong>' in page
    assert f'<tr data-entry="{puer}"><td><a href="/admin/kb">{puer}</a></td><td>{first[puer]}</td><td>2</td>' in page


async def test_a_period_without_feedback_counts_every_quiet_answered_chat_as_resolved(bot):
    owner = bearer(bot, "metrics-owner2", "owner")
    await say(bot, "web-q1", PUER)
    body = await (await bot.get("/api/metrics?days=1", headers=owner)).json()
    assert body["period"]["resolved_by_bot_rate"] == 1.0 and body["period"]["most_not_helpful"] == []
    assert "这段时间没有人点“没用”" in await (await bot.get("/admin/metrics?days=1", headers=owner)).text()


# ---------------------------------------------------------------- Telegram

CUSTOMER = 5559876


@pytest.fixture
async def telegram_bot(aiohttp_server, aiohttp_client, settings, knowledge):
    fake = FakeBotAPI()
    server = await aiohttp_server(fake.app())
    settings = settings.model_copy(update={"telegram_token": TOKEN,
                                           "telegram_api_url": f"http://127.0.0.1:{server.port}/bot"})
    migrated_demo_shop(settings)
    client = await aiohttp_client(create_app(settings, knowledge=knowledge))
    use_fake_rasa(client.server.app)
    return fake, client, settings


async def test_telegram_answer_has_the_feedback_row_and_a_tap_is_stored_and_removes_the_keyboard(telegram_bot):
    fake, client, settings = telegram_bot
    fake.text(CUSTOMER, PUER)
    sent = await eventually(lambda: next((p for p in fake.sent("sendMessage", CUSTOMER)
                                          if p["text"] == PUER_ANSWER), None))
    rows = sent["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in rows] == [["有用", "没用"]]
    message_id = json.loads(rows[0][1]["callback_data"].removeprefix("/feedback"))["message"]
    assert rows[0][1]["callback_data"] == f'/feedback{{"message":{message_id},"helpful":false}}'

    fake.press(CUSTOMER, sent["_result"], rows[0][1]["callback_data"])
    sorry = await eventually(lambda: next((p for p in fake.sent("sendMessage", CUSTOMER)
                                           if p["text"] == NOT_HELPFUL_TEXT.zh), None))
    assert [[b["text"] for b in row] for row in sorry["reply_markup"]["inline_keyboard"]][-1] == ["找店员"]
    assert len(sorry["reply_markup"]["inline_keyboard"]) == 3
    removed = fake.sent("editMessageReplyMarkup", CUSTOMER)
    assert [int(p["message_id"]) for p in removed] == [sent["_result"]["message_id"]]
    assert not removed[0].get("reply_markup")
    assert fake.sent("answerCallbackQuery")
    with db_session(settings) as session:
        answer = session.get(Message, message_id)
        assert answer.channel == "telegram" and answer.payload["meta"]["feedback"] == "not_helpful"
        assert session.scalars(select(UnansweredQuestion.answer)).one() == PUER_ANSWER

    fake.press(CUSTOMER, sent["_result"], rows[0][0]["callback_data"])  # an old copy of the keyboard: no change
    await eventually(lambda: any(p["text"] == FEEDBACK_AGAIN_TEXT.zh for p in fake.sent("sendMessage", CUSTOMER)))
    with db_session(settings) as session:
        assert session.get(Message, message_id).payload["meta"]["feedback"] == "not_helpful"


async def test_telegram_unsure_answer_has_no_feedback_row(telegram_bot):
    fake, client, settings = telegram_bot
    fake.text(CUSTOMER, PANDA)
    sent = await eventually(lambda: next((p for p in fake.sent("sendMessage", CUSTOMER)
                                          if p["text"].startswith("这个问题我不太确定")), None))
    titles = [b["text"] for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    assert titles[-1] == "找店员" and "有用" not in titles and "没用" not in titles


async def test_with_too_few_other_hits_the_next_best_questions_are_offered(bot, settings):
    """An answer whose provenance lists only the entry that answered: the closest others come from the KB."""
    answered = bot.server.app[KNOWLEDGE].search(PUER, k=1)[0].id
    with db_session(settings) as session:
        conversation = bot_conversation(session, "web-fb-few")
        session.add(Message(conversation_id=conversation.id, direction="in", author="customer", channel="web",
                            text=PUER))
        answer = Message(conversation_id=conversation.id, direction="out", author="bot", channel="web",
                         text=PUER_ANSWER, payload={"meta": {"kb": [{"id": answered, "score": 0.9}]}})
        session.add(answer)
        session.commit()
        answer_id = answer.id
    sorry = (await say(bot, "web-fb-few", payload=f'/feedback{{"message":{answer_id},"helpful":false}}'))["replies"]
    closest = [hit.id for hit in bot.server.app[KNOWLEDGE].search(PUER, k=5) if hit.id != answered]
    questions = [q for q in expected_questions(bot, closest) if q != PUER][:2]
    assert sorry[0]["text"] == NOT_HELPFUL_TEXT.zh
    assert sorry[0]["buttons"] == [*({"title": q, "payload": q} for q in questions), ASK_HUMAN] and len(questions) == 2


async def test_the_handoff_card_says_in_words_what_the_bot_did(bot, settings):
    """Staff read what happened, not ids and scores: which entry answered what, where the customer said 没用,
    what the bot was unsure of."""
    reply = (await say(bot, "web-card", PUER))["replies"][0]
    entry_id = stored_bot_message(settings, message_id_of(reply["feedback"][0])).payload["meta"]["kb"][0]["id"]
    first_question = next(e for e in bot.server.app[KNOWLEDGE].index.entries if e.id == entry_id).questions[0]
    await say(bot, "web-card", payload=reply["feedback"][1]["payload"])  # 没用
    await say(bot, "web-card", PANDA)
    await say(bot, "web-card", payload="/request_human")
    staff = bearer(bot, "xiaoli", "staff")
    queue = (await (await bot.get("/api/handoffs", headers=staff)).json())["handoffs"]
    detail = await (await bot.get(f"/api/conversations/{queue[0]['conversation_id']}", headers=staff)).json()
    assert detail["handoff"]["context"]["bot_did"] == [
        {"did": "answered", "asked": PUER, "entry": first_question},
        {"did": "not_helpful", "entry": first_question},
        {"did": "unsure", "asked": PANDA},
    ]
