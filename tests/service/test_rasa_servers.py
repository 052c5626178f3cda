"""Several Rasa servers behind one shop (TECHAN_RASA_URL, comma-separated): customers are spread over them, each
keeps theirs, and a server that is down is passed over without the customer noticing."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from handoff.rasa_client import RASA, RasaClient, RasaUnavailable
from techan.app import create_app
from tests.service.conftest import migrated_demo_shop
from tests.stack import free_port


async def rasa_server(aiohttp_server, name: str, seen: list[tuple[str, str]], delay: float = 0.0,
                      drop: bool = False):
    """A stand-in Rasa server (the HTTP surface the app uses) that answers with its name; ``drop``: it dies in
    the middle of every turn (the connection closed with no answer)."""
    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append((name, body["sender"]))
        if drop:
            request.transport.close()
            raise asyncio.CancelledError
        await asyncio.sleep(delay)
        return web.json_response([{"recipient_id": body["sender"], "text": f"{name} 答：{body['message']}"}])

    async def events(request: web.Request) -> web.Response:
        seen.append((name, request.match_info["sender"]))
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/", lambda _request: web.Response(text="Hello from Rasa: 3.6"))
    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_post("/conversations/{sender}/tracker/events", events)
    return await aiohttp_server(app)


async def test_customers_are_spread_keep_their_server_and_move_on_when_it_is_down(aiohttp_server):
    seen: list[tuple[str, str]] = []
    first, second = [await rasa_server(aiohttp_server, name, seen) for name in ("A", "B")]
    senders = [f"web-{n}" for n in range(16)]
    async with aiohttp.ClientSession() as session:
        rasa = RasaClient(session, [str(first.make_url("/")), str(second.make_url("/"))], "t", 5)
        answered = {s: (await rasa.message(s, "你好"))[0]["text"] for s in senders}
        assert {text[0] for text in answered.values()} == {"A", "B"}  # both servers have customers
        for sender in senders:  # and each customer stays with theirs
            assert (await rasa.message(sender, "在吗"))[0]["text"][0] == answered[sender][0]
            await rasa.add_events(sender, [{"event": "pause"}])
        assert {(name, sender) for name, sender in seen} == {(t[0], s) for s, t in answered.items()}

        await first.close()  # A goes down: its customers are answered by B, and nobody else notices
        for sender in senders:
            assert (await rasa.message(sender, "寄到北京几天"))[0]["text"] == "B 答：寄到北京几天"
        assert await rasa.reachable()
        await second.close()
        with pytest.raises(RasaUnavailable, match="unreachable"):
            await rasa.message(senders[0], "还在吗")
        assert not await rasa.reachable()


async def test_a_turn_that_timed_out_is_not_run_again_on_another_server(aiohttp_server):
    """It may have run (the bot's answer lost): running it on the next server would answer twice."""
    seen: list[tuple[str, str]] = []
    slow = await rasa_server(aiohttp_server, "A", seen, delay=3.0)
    other = await rasa_server(aiohttp_server, "B", seen)
    async with aiohttp.ClientSession() as session:
        rasa = RasaClient(session, [str(slow.make_url("/")), str(other.make_url("/"))], "t", 0.5)
        sender = next(s for s in (f"web-{n}" for n in range(50)) if rasa.servers_for(s)[0] == rasa.servers[0])
        with pytest.raises(RasaUnavailable, match="TimeoutError"):
            await rasa.message(sender, "你好")
    assert seen == [("A", sender)]


async def test_the_customer_is_answered_by_the_shops_other_rasa_server_when_one_is_down(
        aiohttp_server, aiohttp_client, settings, knowledge):
    seen: list[tuple[str, str]] = []
    up = await rasa_server(aiohttp_server, "B", seen)
    down = f"http://127.0.0.1:{free_port()}"
    shop = settings.model_copy(update={"rasa_url": f"{down}, {str(up.make_url('/')).rstrip('/')}"})
    migrated_demo_shop(shop)
    client = await aiohttp_client(create_app(shop, knowledge=knowledge))
    answers = []
    for n in range(6):  # some of them have the server that is down as their own
        response = await client.post(f"/api/chat/web-{n}", json={"text": "真空包装要加钱吗"})
        assert response.status == 200
        answers.append([reply["text"] for reply in (await response.json())["replies"]])
    assert answers == [["B 答：真空包装要加钱吗"]] * 6
    assert sorted(sender for _name, sender in seen) == [f"web-web-{n}" for n in range(6)]


async def test_a_server_killed_mid_turn_delays_that_message_only(aiohttp_server, aiohttp_client, settings, knowledge):
    """The turn that was with it waits (the notice) and is answered by the other server at the next round; the
    bot as a whole is not taken for down, so other customers' messages are answered at once meanwhile."""
    seen: list[tuple[str, str]] = []
    dying = await rasa_server(aiohttp_server, "A", seen, drop=True)
    alive = await rasa_server(aiohttp_server, "B", seen)
    shop = settings.model_copy(update={"rasa_url": f"{str(dying.make_url('/')).rstrip('/')},"
                                                   f"{str(alive.make_url('/')).rstrip('/')}",
                                       "bot_grace_s": 60.0})
    migrated_demo_shop(shop)
    client = await aiohttp_client(create_app(shop, knowledge=knowledge))
    rasa = client.server.app[RASA]
    unlucky = next(s for s in (f"x{n}" for n in range(50)) if rasa.servers_for(f"web-{s}")[0] == rasa.servers[0])
    first = await (await client.post(f"/api/chat/{unlucky}", json={"text": "真空包装要加钱吗"})).json()
    assert first["pending"] and "稍等" in first["replies"][0]["text"]
    token = {"X-Chat-Token": first["chat_token"]}
    others = [await (await client.post(f"/api/chat/other{n}", json={"text": "运费怎么算"})).json() for n in range(4)]
    assert [o["replies"][0]["text"] for o in others] == ["B 答：运费怎么算"] * 4  # at once, none waiting
    later = await wait_for_answer(client, unlucky, token)
    assert later == ["B 答：真空包装要加钱吗"]


async def wait_for_answer(client, sender: str, headers: dict, seconds: float = 10) -> list[str]:
    for _ in range(int(seconds * 10)):
        body = await (await client.get(f"/api/chat/{sender}/messages?after=0", headers=headers)).json()
        bot = [m["text"] for m in body["messages"] if m.get("author") == "bot" and "稍等" not in m["text"]]
        if bot:
            return bot
        await asyncio.sleep(0.1)
    raise AssertionError(f"no answer for {sender} in {seconds} s")
