"""Staff assist: beside a chat, the knowledge answers and products for the customer's last question, from the
bot's own answer path (the bot's answer first, word for word), in the customer's language; staff only."""

from __future__ import annotations

from sqlalchemy import select

from core.db import Conversation, Customer
from tests.service.conftest import db_session
from tests.service.fake_rasa import use_fake_rasa
from tests.service.test_feedback import say
from tests.service.test_kb_admin import bearer


def conversation_of(settings, sender: str) -> int:
    with db_session(settings) as session:
        return session.scalar(select(Conversation.id).join(Customer, Conversation.customer_id == Customer.id)
                              .where(Customer.external_id == sender))


async def test_staff_get_the_bots_answer_to_the_last_question_with_the_closest_entries_and_products(client, settings):
    use_fake_rasa(client.server.app)
    staff = bearer(client, "xiaoli", "staff")
    await say(client, "web-assist", "你好")
    bot_reply = (await say(client, "web-assist", "熟普洱能放多久？"))["replies"][0]["text"]
    await say(client, "web-assist", "/request_gift")  # a tapped button is not a question
    conversation_id = conversation_of(settings, "web-assist")

    helped = await (await client.get(f"/api/conversations/{conversation_id}/assist", headers=staff)).json()
    assert helped["question"]["text"] == "熟普洱能放多久？"
    first, *others = helped["suggestions"]
    assert first["bot_answer"] is True and first["text"] == bot_reply  # what the bot said, word for word
    assert first["source"].startswith("kb:") and "普洱" in first["title"]
    assert 1 <= len(others) <= 2 and all(not s["bot_answer"] and s["source"].startswith("kb:") for s in others)
    assert len({s["source"] for s in helped["suggestions"]}) == len(helped["suggestions"])  # none twice
    assert all(s["text"] and "{" not in s["text"] for s in helped["suggestions"])  # filled from the catalog
    products = helped["products"]
    assert 1 <= len(products) <= 3 and any("普洱" in p["name"] for p in products)
    assert all(p["text"].startswith(p["name"]) and p["text"].count("元") >= 1 for p in products)


async def test_an_english_customer_gets_english_suggestions_and_the_product_discussed_is_kept(client, settings):
    use_fake_rasa(client.server.app)
    staff = bearer(client, "xiaoli", "staff")
    summary = (await say(client, "web-assist-en", "how much is the beef jerky?"))["replies"][0]["text"]
    assert summary.startswith("Inner Mongolia")  # the bot summarised the jerky, in English
    await say(client, "web-assist-en", "and how long does it keep?")
    conversation_id = conversation_of(settings, "web-assist-en")

    helped = await (await client.get(f"/api/conversations/{conversation_id}/assist", headers=staff)).json()
    assert helped["question"]["text"] == "and how long does it keep?"
    first = helped["suggestions"][0]
    assert first["bot_answer"] and first["source"] == "kb:beef-jerky-shelf-life"  # "it": the jerky, from before
    assert first["text"].isascii() or "jerky" in first["text"].lower()
    assert helped["products"][0]["name"].startswith("Inner Mongolia")


async def test_asking_for_a_person_is_not_the_question_and_what_the_customer_asks_staff_later_is(client, settings):
    use_fake_rasa(client.server.app)
    staff = bearer(client, "xiaoli", "staff")
    await say(client, "web-assist-hand", "牛肉干能放多久")
    await say(client, "web-assist-hand", "转人工")
    conversation_id = conversation_of(settings, "web-assist-hand")
    helped = await (await client.get(f"/api/conversations/{conversation_id}/assist", headers=staff)).json()
    assert helped["question"]["text"] == "牛肉干能放多久"  # not 转人工
    assert helped["suggestions"][0]["source"] == "kb:beef-jerky-shelf-life"

    queue = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"]
    handoff = next(h for h in queue if h["conversation_id"] == conversation_id)
    assert (await client.post(f"/api/handoffs/{handoff['id']}/claim", headers=staff)).status == 200
    await say(client, "web-assist-hand", "那寄到常州要几天？")  # to staff now: the bot stays quiet
    helped = await (await client.get(f"/api/conversations/{conversation_id}/assist", headers=staff)).json()
    assert helped["question"]["text"] == "那寄到常州要几天？"
    first = helped["suggestions"][0]
    assert first["bot_answer"] and first["source"] == "shipping:江苏" and "常州" in first["text"]


async def test_assist_is_for_staff_and_a_chat_without_a_question_gets_nothing(client, settings):
    use_fake_rasa(client.server.app)
    staff = bearer(client, "xiaoli", "staff")
    await say(client, "web-assist-tap", payload="/request_gift")
    conversation_id = conversation_of(settings, "web-assist-tap")
    assert (await (await client.get(f"/api/conversations/{conversation_id}/assist", headers=staff)).json()) == {
        "question": None, "suggestions": [], "products": []}
    assert (await client.get(f"/api/conversations/{conversation_id}/assist")).status == 401
    assert (await client.get("/api/conversations/999999/assist", headers=staff)).status == 404
