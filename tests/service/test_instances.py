"""Two app instances of one shop (one database, one Redis): a console or a chat page open on one instance is
pushed what happened on the other, and an edit to the knowledge base reaches every instance's index at once."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time

import pytest
import redis.asyncio as redis
import yaml

from calls.bridge import CALLS
from calls.signalling import BRIDGE_ELSEWHERE
from handoff import leases, turns
from handoff.channels.telegram import TAKEOVER_TRY_S, TELEGRAM
from handoff.desk import DESK
from handoff.relay import CHANNEL
from handoff.router import ROUTER
from knowledge.service import Knowledge
from techan import PROJECT_ROOT
from techan.app import create_app
from tests.call_peer import CallPeer, web_customer_hello
from tests.conftest import command_env, wait_until
from tests.fake_telegram import TOKEN, FakeBotAPI
from tests.redis_server import redis_server
from tests.service.conftest import migrated_demo_shop
from tests.service.test_calls import events as call_events, start as start_call, stored_call
from tests.service.fake_rasa import use_fake_rasa
from tests.service.test_chat_identity import stored_messages
from tests.service.test_telegram import CUSTOMER, eventually, texts_to
from tests.service.test_handoff_api import hand_off
from tests.service.test_kb_admin import NEW_ENTRY, bearer, top_hit


@pytest.fixture
def redis_url(tmp_path):
    with redis_server(tmp_path) as url:
        yield url


async def two_instances(aiohttp_client, settings, knowledge, redis_url: str = "", own_index: bool = False,
                        count: int = 2):
    """``own_index``: each instance keeps its own knowledge index (sharing the loaded embedding model)."""
    shared = settings.model_copy(update={"redis_url": redis_url})
    migrated_demo_shop(shared)
    return [await aiohttp_client(create_app(shared, knowledge=Knowledge(knowledge.embedder, knowledge.cache.path)
                                            if own_index else knowledge)) for _ in range(count)]


@pytest.fixture
def no_polling(monkeypatch):
    """The instances' once-a-second look at the database for changes made outside them, switched off: what
    reaches them then came by the notification."""
    monkeypatch.setattr("knowledge.live.POLL_SECONDS", 3600)


async def console(client, name: str):
    ws = await client.ws_connect("/ws/staff", headers=bearer(client, name, "staff"))
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    return ws


async def test_a_console_hears_of_a_chat_handed_off_on_the_other_instance(aiohttp_client, settings, knowledge,
                                                                           redis_url):
    first, second = await two_instances(aiohttp_client, settings, knowledge, redis_url)
    watching = await console(second, "watcher")
    try:
        body = await hand_off(first, "web-across")  # the customer writes to the first instance
        assert body["state"] == "waiting"
        queued = await watching.receive_json(timeout=5)
        assert queued["type"] == "queue"
        await first.post("/api/chat/web-across", json={"text": "还在吗"})
        assert (await watching.receive_json(timeout=5)) == {"type": "message",
                                                            "conversation_id": queued["conversation_id"]}
    finally:
        await watching.close()


async def test_a_chat_page_hears_staff_writing_on_the_other_instance(aiohttp_client, settings, knowledge, redis_url):
    first, second = await two_instances(aiohttp_client, settings, knowledge, redis_url)
    await hand_off(first, "web-page")
    page = await first.ws_connect("/ws/chat/web-page")  # the customer's page, open on the first instance
    staff = bearer(second, "writer", "staff")
    try:
        handoff = (await (await second.get("/api/handoffs", headers=staff)).json())["handoffs"][0]
        await second.post(f"/api/handoffs/{handoff['id']}/claim", headers=staff)
        assert (await page.receive_json(timeout=5)) == {"type": "message"}  # 「店员 … 已接入」
        await second.post(f"/api/conversations/{handoff['conversation_id']}/messages", json={"text": "在的，您说"},
                          headers=staff)
        assert (await page.receive_json(timeout=5)) == {"type": "message"}
        messages = (await (await first.get("/api/chat/web-page/messages?after=0")).json())["messages"]
        assert messages[-1]["text"] == "在的，您说"
    finally:
        await page.close()


async def test_something_on_the_channel_that_is_not_an_event_is_ignored(aiohttp_client, settings, knowledge,
                                                                         redis_url, caplog):
    first, second = await two_instances(aiohttp_client, settings, knowledge, redis_url)
    watching = await console(second, "watcher")
    publisher = redis.from_url(redis_url)
    try:
        await publisher.publish(CHANNEL, "not json")
        await publisher.publish(CHANNEL, '{"type": "DropTables", "fields": {}}')
        await hand_off(first, "web-after-noise")
        assert (await watching.receive_json(timeout=5))["type"] == "queue"  # the relay still listens
        assert caplog.text.count("ignored a message that is not an event") == 4  # two instances, two each
    finally:
        await publisher.aclose()
        await watching.close()


async def test_without_redis_each_instance_pushes_only_its_own(aiohttp_client, settings, knowledge):
    first, second = await two_instances(aiohttp_client, settings, knowledge)
    watching = await console(second, "watcher")
    try:
        await hand_off(first, "web-alone")
        with pytest.raises(TimeoutError):
            await watching.receive_json(timeout=1)
        await hand_off(second, "web-here")
        assert (await watching.receive_json(timeout=5))["type"] == "queue"
    finally:
        await watching.close()


async def wait_for_answer(client, owner: dict, question: str, entry_id: str) -> None:
    deadline = time.monotonic() + 2  # the bound for every instance to see a change
    while (await top_hit(client, owner, question))["id"] != entry_id:
        assert time.monotonic() < deadline, f"{entry_id} was not in that instance's index within 2 s"
        await asyncio.sleep(0.05)


async def test_an_owners_edit_on_one_instance_is_in_every_instances_index_at_once(
        aiohttp_client, settings, knowledge, redis_url, no_polling):
    first, second = await two_instances(aiohttp_client, settings, knowledge, redis_url, own_index=True)
    owner = bearer(first, "laoban", "owner")
    assert (await top_hit(second, owner, "你们卖不卖熊猫玩偶"))["id"] != "panda-toy"
    saved = await first.put("/api/kb/entries/panda-toy", json=NEW_ENTRY, headers=owner)
    assert saved.status == 200
    assert (await top_hit(first, owner, "你们卖不卖熊猫玩偶"))["id"] == "panda-toy"  # here when the edit returns
    await wait_for_answer(second, owner, "你们卖不卖熊猫玩偶", "panda-toy")


async def test_an_import_from_the_command_line_reaches_the_running_instances(
        aiohttp_client, settings, knowledge, redis_url, no_polling, tmp_path):
    first, second = await two_instances(aiohttp_client, settings, knowledge, redis_url, own_index=True)
    owner = bearer(first, "laoban", "owner")
    kb = tmp_path / "kb.yml"
    kb.write_text(yaml.safe_dump({"entries": [{"id": "panda-toy", **NEW_ENTRY}]}, allow_unicode=True),
                  encoding="utf-8")
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "techan", "kb", "import", str(kb)],
                                   cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                                   env=command_env(settings, TECHAN_REDIS_URL=redis_url))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["knowledge base: 1 added, 0 updated", "the running app instances were told"]
    for instance in (first, second):
        await wait_for_answer(instance, owner, "你们卖不卖熊猫玩偶", "panda-toy")


async def test_one_customers_messages_take_turns_across_instances(aiohttp_client, settings, knowledge, redis_url):
    """The customer's page writes to one instance, then (a reconnect through the balancer) to the other, while
    the first message's turn is still with the bot: the second waits for it, and the answers keep the order."""
    shared = settings.model_copy(update={"redis_url": redis_url, "bot_grace_s": 60.0})
    migrated_demo_shop(shared)
    first, second = [await aiohttp_client(create_app(shared, knowledge=knowledge)) for _ in range(2)]
    rasa = use_fake_rasa(first.server.app)  # one bot behind both, to see the turns it is given at once
    second.server.app[ROUTER].rasa = second.server.app[DESK].rasa = rasa
    rasa.turn_s = 0.5
    token = (await (await first.post("/api/chat/web-turns", json={"text": "你好"})).json())["chat_token"]
    header = {"X-Chat-Token": token}

    async def a_moment_later():
        await asyncio.sleep(0.1)  # the first turn is with the bot by then
        return await second.post("/api/chat/web-turns", json={"text": "寄到北京要几天"}, headers=header)
    answers = await asyncio.gather(
        first.post("/api/chat/web-turns", json={"text": "普洱茶能放多久"}, headers=header), a_moment_later())
    assert [response.status for response in answers] == [200, 200]
    replies = [(await response.json())["replies"] for response in answers]
    assert "普洱" in replies[0][0]["text"] and "北京" in replies[1][0]["text"], replies
    assert rasa.most_turns_at_once == 1
    assert rasa.received == ["你好", "普洱茶能放多久", "寄到北京要几天"]


async def test_a_long_turn_keeps_the_customer_and_a_dead_instances_turn_frees_them_soon(redis_url, monkeypatch):
    """The lease is renewed while a turn runs, so a turn longer than the lease still holds the customer; an
    instance killed mid-turn renews nothing, and the customer's next message goes on after the lease, not after
    the minute a turn waits for a live one (the web chat's client gives up before that)."""
    shared = redis.Redis.from_url(redis_url)
    try:
        first, second = turns.CustomerTurns(shared), turns.CustomerTurns(shared)
        monkeypatch.setattr(leases, "LEASE_S", 0.6)
        async with first.of("web", "c1"):
            await asyncio.sleep(1.5)  # over two leases
            waiting = asyncio.create_task(second.of("web", "c1").__aenter__())
            await asyncio.sleep(0.5)
            assert not waiting.done()  # still first's
        await (await waiting).__aexit__()

        monkeypatch.undo()
        dying = first.of("web", "c2")
        await dying.__aenter__()
        dying.lease._renewing.cancel()  # the process is gone: nothing renews and nothing releases
        started = time.monotonic()
        async with second.of("web", "c2") as turn:
            assert turn.lease.held  # it has the customer, not merely waited the minute out
            assert time.monotonic() - started < leases.LEASE_S + 2 < turns.WAIT_S
    finally:
        await shared.aclose()


async def test_telegram_is_polled_and_sent_to_by_one_instance_and_taken_over_when_it_stops(
        redis_url, aiohttp_server, aiohttp_client, settings, knowledge):  # Redis outlives the instances
    """Two instances of a shop on Telegram (long polling): one polls (two would end each other's polls: 409),
    a staff reply stored on the other reaches the customer once, and when the polling one stops the other
    takes over at once, so the customer's next message is answered."""
    fake = FakeBotAPI()
    server = await aiohttp_server(fake.app())
    shared = settings.model_copy(update={"redis_url": redis_url, "telegram_token": TOKEN,
                                         "telegram_api_url": f"http://127.0.0.1:{server.port}/bot"})
    migrated_demo_shop(shared)
    instances = [await aiohttp_client(create_app(shared, knowledge=knowledge)) for _ in range(2)]
    for instance in instances:
        use_fake_rasa(instance.server.app)
    await eventually(lambda: fake.polls >= 4)
    polling = [i for i in instances if i.server.app[TELEGRAM].updater.running]
    assert len(polling) == 1
    holder, other = polling[0], next(i for i in instances if i is not polling[0])
    # before any customer message: the account is written from the test's own thread, which blocks the event loop;
    # with the instances writing the chat to SQLite at the same time, neither could go on ("database is locked")
    staff = bearer(other, "xiaoli", "staff")

    fake.text(CUSTOMER, "转人工")
    await eventually(lambda: texts_to(fake, CUSTOMER))
    handoff = (await (await other.get("/api/handoffs", headers=staff)).json())["handoffs"][0]
    assert (await other.post(f"/api/handoffs/{handoff['id']}/claim", headers=staff)).status == 200
    assert (await other.post(f"/api/conversations/{handoff['conversation_id']}/messages",
                             json={"text": "您好，我是小李"}, headers=staff)).status == 201
    await eventually(lambda: "您好，我是小李" in texts_to(fake, CUSTOMER))
    await asyncio.sleep(1.5)  # time for a second copy to go out, were both instances sending
    shown = texts_to(fake, CUSTOMER)
    assert shown[-1] == "您好，我是小李" and len(shown) == len(set(shown)), shown  # each once

    await holder.close()  # stopped (a restart): it gives the lease back
    await eventually(lambda: other.server.app[TELEGRAM].updater.running, timeout=2 * TAKEOVER_TRY_S + 2)
    fake.text(CUSTOMER, "还有一个问题")
    stored = await eventually(lambda: [t for _author, t in stored_messages(shared) if t == "还有一个问题"])
    assert stored == ["还有一个问题"]
    assert fake.conflicts == 0


async def test_a_call_is_signalled_across_instances_and_goes_on_when_one_of_them_stops(
        aiohttp_client, settings, knowledge, redis_url, monkeypatch):
    """Staff's call page reaches one instance, the customer's another: offers, answers and the hang-up cross
    over Redis. The customer's instance stops (a rolling restart): the call is not ended; their page rejoins on a
    third instance with the secret the first join gave, staff offer again, and the media flows again. Waiting
    past the drop grace shows the drop timer saw them back. Every step is stored once."""
    monkeypatch.setattr("calls.bridge.RECONNECT_GRACE_S", 2.0)
    first, second, third = await two_instances(aiohttp_client, settings, knowledge, redis_url, count=3)
    staff = bearer(first, "xiaoli", "staff")
    call, conversation_id = await start_call(first, "web-call-across", staff)
    url = f"/ws/call/{call['call_id']}"
    staff_peer, customer, back = CallPeer("staff"), CallPeer("customer"), CallPeer("customer")
    try:
        assert (await staff_peer.join(first, url, {"type": "join", "role": "staff"}, staff))["peer_present"] is False
        hello = await web_customer_hello(first, "/api/chat/web-call-across", call["customer_url"])
        joined = await customer.join(second, url, hello)
        assert joined["type"] == "joined" and joined["peer_present"] is True, joined
        await wait_until(lambda: staff_peer.received["video"] >= 5 and customer.received["video"] >= 5)
        assert [m["type"] for m in staff_peer.messages[:3]] == ["joined", "peer_joined", "start"]

        await second.server.app[CALLS].leave()  # the customer's instance stops
        await wait_until(lambda: any(m["type"] == "peer_left" for m in staff_peer.messages))
        assert stored_call(settings, call["call_id"]).ended_at is None
        again = await back.join(third, url, {"type": "join", "role": "customer", "rejoin": joined["rejoin"]})
        assert again["type"] == "joined" and again["peer_present"] is True, again
        await wait_until(lambda: back.received["video"] >= 5)  # staff offered again, across instances
        frames = staff_peer.received["video"]
        await asyncio.sleep(3)  # past the grace the staff's instance gave the customer to come back
        assert stored_call(settings, call["call_id"]).ended_at is None
        assert staff_peer.received["video"] > frames

        await staff_peer.hang_up()
        await wait_until(back.ended.is_set)
        assert [m for m in back.messages if m["type"] == "ended"] == [{"type": "ended", "reason": "staff_hangup"}]
        assert stored_call(settings, call["call_id"]).end_reason == "staff_hangup"
        assert [name for name in call_events(settings, conversation_id) if name.startswith("call_")] == [
            "call_started", "call_joined", "call_connected", "call_ended"]
        assert third.server.app[CALLS].rooms == {} and first.server.app[CALLS].rooms == {}
    finally:
        for peer in (staff_peer, customer, back):
            await peer.close()


async def test_a_customers_second_tab_on_another_instance_is_refused_and_staff_moving_closes_their_old_page(
        aiohttp_client, settings, knowledge, redis_url):
    first, second = await two_instances(aiohttp_client, settings, knowledge, redis_url)
    staff = bearer(first, "xiaoli", "staff")
    call, _ = await start_call(first, "web-call-tabs", staff)
    url = f"/ws/call/{call['call_id']}"
    old_page, new_page, customer = CallPeer("staff"), CallPeer("staff"), CallPeer("customer")
    try:
        await old_page.join(first, url, {"type": "join", "role": "staff"}, staff)
        hello = await web_customer_hello(first, "/api/chat/web-call-tabs", call["customer_url"])
        assert (await customer.join(second, url, hello))["type"] == "joined"
        await wait_until(lambda: old_page.received["video"] >= 3 and customer.received["video"] >= 3)
        refused = await CallPeer("customer").join(first, url, {**hello, "rejoin": "not-the-secret"})
        assert refused == {"type": "error", "error": "this call link has been used"}
        assert (await new_page.join(second, url, {"type": "join", "role": "staff"}, staff))["type"] == "joined"
        await wait_until(old_page.ended.is_set)  # its socket was closed by the instance that held it
        assert not [m for m in old_page.messages if m["type"] == "ended"]  # closed, not told the call ended
        await wait_until(lambda: new_page.received["video"] >= 3 and customer.received["video"] >= 3)
        assert not [m for m in customer.messages if m["type"] == "peer_left"]
    finally:
        for peer in (old_page, new_page, customer):
            await peer.close()


@contextlib.asynccontextmanager
async def a_call_across(aiohttp_client, settings, knowledge, redis_url: str, monkeypatch, sender: str):
    """Staff on the first instance, the customer on the second, with short presence rounds and grace: yields
    (the instances, the call, the staff's peer, the customer's peer) once the picture flows."""
    monkeypatch.setattr("calls.across.PRESENCE_S", 1.5)
    monkeypatch.setattr("calls.bridge.RECONNECT_GRACE_S", 1.0)
    first, second = await two_instances(aiohttp_client, settings, knowledge, redis_url)
    staff = bearer(first, "xiaoli", "staff")
    call, _ = await start_call(first, sender, staff)
    url = f"/ws/call/{call['call_id']}"
    staff_peer, customer = CallPeer("staff"), CallPeer("customer")
    try:
        await staff_peer.join(first, url, {"type": "join", "role": "staff"}, staff)
        hello = await web_customer_hello(first, f"/api/chat/{sender}", call["customer_url"])
        assert (await customer.join(second, url, hello))["type"] == "joined"
        await wait_until(lambda: staff_peer.received["video"] >= 3)
        await asyncio.sleep(1)  # the staff's instance has looked at the customer's presence since
        yield (first, second), call, staff_peer, customer
    finally:
        await staff_peer.close()
        await customer.close()


async def test_a_side_whose_instance_died_is_dropped_by_the_other_sides_instance(
        aiohttp_client, settings, knowledge, redis_url, monkeypatch):
    """A killed instance says nothing: the customer's presence simply stops being renewed (here: the customer's
    instance stops talking to Redis about it). The staff's instance sees it, tells the staff their customer dropped,
    and ends the call when they do not come back."""
    async with a_call_across(aiohttp_client, settings, knowledge, redis_url, monkeypatch, "web-call-dies") as (
            (_first, second), call, staff_peer, _customer):
        assert not [m for m in staff_peer.messages if m["type"] in ("peer_left", "ended")]
        async def renews_nothing(**_call):  # as a killed instance: its customer's presence simply runs out
            return 1
        second.server.app[CALLS].across._renew = second.server.app[CALLS].across._release = renews_nothing
        await wait_until(lambda: any(m["type"] == "ended" for m in staff_peer.messages), 10)
        told = [m for m in staff_peer.messages if m["type"] in ("peer_left", "ended")]
        assert told == [{"type": "peer_left", "role": "customer"}, {"type": "ended", "reason": "customer_dropped"}]
        assert stored_call(settings, call["call_id"]).end_reason == "customer_dropped"


async def test_a_bridge_call_reached_on_another_instance_says_so(aiohttp_client, settings, knowledge, redis_url):
    """Bridge calls stay in the instance that started them (its peers are there): another instance does not
    pretend the call ended."""
    first, second = await two_instances(aiohttp_client, settings.model_copy(update={"call_mode": "bridge"}),
                                        knowledge, redis_url)
    staff = bearer(first, "xiaoli", "staff")
    call, _ = await start_call(first, "web-call-bridge", staff)
    answer = await CallPeer("staff").join(second, f"/ws/call/{call['call_id']}", {"type": "join", "role": "staff"},
                                          staff)
    assert answer == {"type": "error", "error": BRIDGE_ELSEWHERE}
    assert stored_call(settings, call["call_id"]).ended_at is None


async def test_a_presence_lost_in_redis_is_set_again_and_the_call_goes_on(aiohttp_client, settings, knowledge,
                                                                          redis_url, monkeypatch):
    """Redis restarted without its data (or the key ran out while Redis was slow): the live side's instance sets
    it again, and the other side's instance does not take them for gone."""
    shared = redis.from_url(redis_url)
    async with a_call_across(aiohttp_client, settings, knowledge, redis_url, monkeypatch, "web-call-blip") as (
            _instances, call, staff_peer, _customer):
        await shared.delete(f"techan:call:{call['call_id']}:customer")
        await asyncio.sleep(4)  # several presence rounds and past the grace
        assert await shared.exists(f"techan:call:{call['call_id']}:customer")
        assert not [m for m in staff_peer.messages if m["type"] in ("peer_left", "ended")]
        assert stored_call(settings, call["call_id"]).ended_at is None
    await shared.aclose()
