"""The Rasa action endpoint served by the app (rasa_sdk ActionExecutor), as Rasa 3.6 calls it."""

from __future__ import annotations

from web.keys import SETTINGS


def action_call(action: str, text: str, intent: str) -> dict:
    return {
        "next_action": action, "sender_id": "web-hook", "version": "3.6.21",
        "tracker": {
            "sender_id": "web-hook", "slots": {"product": None}, "latest_message": {
                "text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []},
            "events": [], "paused": False, "followup_action": None, "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {"slots": {"product": {"type": "text"}}, "intents": [intent], "entities": [], "responses": {},
                   "actions": [action]},
    }


async def test_action_call_returns_the_kb_answer(client):
    token = client.server.app[SETTINGS].rasa_token
    response = await client.post(f"/webhook?token={token}",
                                 json=action_call("action_answer_question", "运费多少钱？", "ask_shipping"))
    body = await response.json()
    assert response.status == 200
    assert body["responses"][0]["custom"]["techan"]["kb"][0]["id"] == "shipping-fee"
    assert "包邮" in body["responses"][0]["text"]


async def test_webhook_needs_the_token(client):
    body = action_call("action_answer_question", "运费多少钱？", "ask_shipping")
    assert (await client.post("/webhook", json=body)).status == 401
    assert (await client.post("/webhook?token=wrong", json=body)).status == 401


async def test_unknown_action_is_404_and_bad_body_400(client):
    token = client.server.app[SETTINGS].rasa_token
    response = await client.post(f"/webhook?token={token}", json=action_call("action_nope", "x", "greet"))
    assert response.status == 404
    response = await client.post(f"/webhook?token={token}", data=b"[1,", headers={"Content-Type": "application/json"})
    assert response.status == 400
