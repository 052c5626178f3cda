"""Web-chat identity: the first message of a sender id mints a signed chat token; every later request for
that sender needs it (cookie or X-Chat-Token), so another browser knowing only the sender id reads, posts,
listens and joins nothing."""

from __future__ import annotations

import time

import aiohttp
import pytest
from sqlalchemy import func, select, update

from calls.signalling import WEB_JOIN_REFUSED
from core.accounts import sign, unsign
from core.db import Call, Conversation, Customer, Message
from handoff.channels.webchat import CHAT_TOKEN_DAYS, NOT_YOU_TEXT
from tests.call_peer import CallPeer, web_customer_hello
from tests.service.conftest import db_session
from tests.service.test_calls import call_app, start
from tests.service.test_kb_admin import bearer


def stored_messages(settings) -> list[tuple[str, str]]:
    with db_session(settings) as session:
        return [(m.author, m.text) for m in session.scalars(select(Message).order_by(Message.id))]


def customer_row(settings, sender: str) -> Customer:
    with db_session(settings) as session:
        return session.scalar(select(Customer).where(Customer.external_id == sender))


def stranger(client) -> aiohttp.ClientSession:
    """Another browser: the same app, its own (empty) cookie jar."""
    return aiohttp.ClientSession(base_url=str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True))


def script(client) -> aiohttp.ClientSession:
    """A script that keeps no cookies: only the X-Chat-Token header can carry the token."""
    return aiohttp.ClientSession(base_url=str(client.make_url("/")), cookie_jar=aiohttp.DummyCookieJar())


async def test_the_first_message_mints_a_token_as_json_and_two_http_only_cookies(client, settings):
    response = await client.post("/api/chat/web-id", json={"text": "你好"})
    first = await response.json()
    claims = unsign(settings.secret, first["chat_token"])
    assert {k: claims[k] for k in ("kind", "sub", "v")} == {"kind": "chat", "sub": "web-id", "v": 1}
    assert abs(claims["exp"] - (time.time() + CHAT_TOKEN_DAYS * 86400)) < 60
    cookies = {c.key: c for c in response.cookies.values()}
    assert {name: (c["path"], c["httponly"], c["samesite"], c["secure"]) for name, c in cookies.items()} == {
        "techan_chat": ("/api/chat/web-id", True, "Lax", ""),
        "techan_chat_ws": ("/ws/chat/web-id", True, "Lax", "")}
    assert {c.value for c in cookies.values()} == {first["chat_token"]}
    assert customer_row(settings, "web-id").chat_token_version == 1

    again = await client.post("/api/chat/web-id", json={"text": "还在吗"})  # the jar carries the cookie
    body = await again.json()
    assert again.status == 200 and "chat_token" not in body and body["state"] == "waiting"
    assert unsign(settings.secret, again.cookies["techan_chat"].value)["sub"] == "web-id"  # renewed with use
    assert [text for author, text in stored_messages(settings) if author == "customer"] == ["你好", "还在吗"]


async def test_over_https_the_cookies_are_secure_and_usable_in_a_frame(aiohttp_client, settings, knowledge):
    from techan.app import create_app
    from tests.service.conftest import migrated_demo_shop

    settings = settings.model_copy(update={"public_url": "https://shop.example"})
    migrated_demo_shop(settings)
    client = await aiohttp_client(create_app(settings, knowledge=knowledge))
    response = await client.post("/api/chat/web-tls", json={"text": "你好"})
    assert response.status == 200
    headers = sorted(response.headers.getall("Set-Cookie"))
    assert [h.split("=", 1)[0] for h in headers] == ["techan_chat", "techan_chat_ws"]
    assert all("HttpOnly" in h and "Secure" in h and "SameSite=None" in h for h in headers), headers


async def test_another_browser_with_the_sender_id_reads_posts_listens_and_joins_nothing(
        aiohttp_client, settings, knowledge):
    client, settings = await call_app(aiohttp_client, settings, knowledge, "p2p")
    staff = bearer(client, "xiaoli", "staff")
    call, conversation_id = await start(client, "web-victim", staff)  # the customer's chat, held by staff
    assert (await client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "您的订单号是 TB123"},
                              headers=staff)).status == 201
    stored = stored_messages(settings)
    link = call["customer_url"].rsplit("/call/", 1)[1]

    async with stranger(client) as other:
        async def refused(method: str, path: str, **kwargs) -> str:
            async with other.request(method, path, **kwargs) as response:
                body = await response.json()
                assert response.status == 401, (path, body)
                return body["error"]

        assert await refused("POST", "/api/chat/web-victim", json={"text": "我是本人，订单改地址"}) == NOT_YOU_TEXT
        assert await refused("POST", "/api/chat/web-victim", json={"payload": "/cancel"}) == NOT_YOU_TEXT
        assert await refused("GET", "/api/chat/web-victim/messages?after=0") == NOT_YOU_TEXT
        assert await refused("GET", "/api/chat/web-victim/history") == NOT_YOU_TEXT
        assert await refused("POST", "/api/chat/web-victim/messages/read", json={"upto": 10**6}) == NOT_YOU_TEXT
        assert await refused("POST", "/api/chat/web-victim/call-pass", json={"link": link}) == NOT_YOU_TEXT
        with pytest.raises(aiohttp.WSServerHandshakeError) as socket:
            await other.ws_connect("/ws/chat/web-victim")
        assert socket.value.status == 401
        intruder = CallPeer("customer")  # the link alone (read over a shoulder): no join
        try:
            answer = await intruder.join(other, f"/ws/call/{call['call_id']}",
                                         {"type": "join", "role": "customer", "token": link})
        finally:
            await intruder.close()
        assert answer == {"type": "error", "error": WEB_JOIN_REFUSED}

    assert stored_messages(settings) == stored  # nothing stored, nothing marked read, the handoff still open
    with db_session(settings) as session:
        assert session.get(Conversation, conversation_id).state == "assigned"
        assert session.get(Call, call["call_id"]).token_used_at is None
        assert {m.delivery_status for m in session.scalars(select(Message).where(Message.author == "staff"))} == {
            "pending"}
    # the customer's own browser still has it all: the staff message, and the call's first join
    seen = await (await client.get("/api/chat/web-victim/messages?after=0")).json()
    assert [m["text"] for m in seen["messages"] if m["author"] == "staff"] == ["您的订单号是 TB123"]
    history = await (await client.get("/api/chat/web-victim/history")).json()  # a reopened page: the chat so far
    assert history["state"] == "assigned"
    assert [(m["direction"], m["author"], m["text"]) for m in history["messages"]] == [
        ("in" if author == "customer" else "out", author, text) for author, text in stored_messages(settings)]
    customer = CallPeer("customer")
    try:
        joined = await customer.join(client, f"/ws/call/{call['call_id']}",
                                     await web_customer_hello(client, "/api/chat/web-victim", call["customer_url"]))
        assert joined["type"] == "joined", joined
    finally:
        await customer.close()


async def test_a_pass_from_one_customers_chat_does_not_join_another_customers_call(aiohttp_client, settings,
                                                                                   knowledge):
    client, settings = await call_app(aiohttp_client, settings, knowledge, "p2p")
    call, _ = await start(client, "web-callee", bearer(client, "xiaoli", "staff"))
    link = call["customer_url"].rsplit("/call/", 1)[1]
    await client.post("/api/chat/web-someone", json={"text": "你好"})
    # another customer's chat asking for a pass to this call: no such call in their chat
    response = await client.post("/api/chat/web-someone/call-pass", json={"link": link})
    assert response.status == 404 and "链接已失效" in (await response.json())["error"]
    forged = sign(settings.secret, {"kind": "web_call", "call": call["call_id"], "nonce": "0" * 24,
                                    "sub": "web-callee", "v": 1, "exp": int(time.time()) + 60})  # not the link's
    peer = CallPeer("customer")
    try:
        answer = await peer.join(client, f"/ws/call/{call['call_id']}",
                                 {"type": "join", "role": "customer", "token": link, "chat": forged})
    finally:
        await peer.close()
    assert answer == {"type": "error", "error": WEB_JOIN_REFUSED}


async def test_forged_expired_ended_and_other_customers_tokens_are_refused(client, settings):
    mine = (await (await client.post("/api/chat/web-mine", json={"text": "你好"})).json())["chat_token"]
    other = (await (await client.post("/api/chat/web-other", json={"text": "你好"})).json())["chat_token"]
    now = int(time.time())
    tokens = {
        "another customer's": other,
        "signed with another key": sign("not-the-shop-secret", {"kind": "chat", "sub": "web-mine", "v": 1,
                                                                "exp": now + 3600}),
        "tampered": mine[:-3] + ("AAA" if not mine.endswith("AAA") else "BBB"),
        "expired": sign(settings.secret, {"kind": "chat", "sub": "web-mine", "v": 1, "exp": now - 1}),
        "of another kind": sign(settings.secret, {"kind": "call", "sub": "web-mine", "v": 1, "exp": now + 3600}),
        "garbage": "x.y",
    }
    async with script(client) as http:
        for name, token in tokens.items():
            async with http.get("/api/chat/web-mine/messages?after=0", headers={"X-Chat-Token": token}) as response:
                assert response.status == 401, name
            async with http.post("/api/chat/web-mine", json={"text": "冒名"}, headers={"X-Chat-Token": token}) as r:
                assert r.status == 401, name
        async with http.get("/api/chat/web-mine/messages?after=0", headers={"X-Chat-Token": mine}) as response:
            assert response.status == 200
        with db_session(settings) as session:  # bumping the version ends the customer's tokens
            session.execute(update(Customer).where(Customer.external_id == "web-mine").values(chat_token_version=2))
            session.commit()
        async with http.get("/api/chat/web-mine/messages?after=0", headers={"X-Chat-Token": mine}) as response:
            assert response.status == 401
    assert "冒名" not in [text for _, text in stored_messages(settings)]


async def test_the_header_works_as_well_as_the_cookie(client, settings):
    async with script(client) as http:
        async with http.post("/api/chat/web-script", json={"text": "你好"}) as response:
            token = (await response.json())["chat_token"]
        header = {"X-Chat-Token": token}
        async with http.post("/api/chat/web-script", json={"text": "还在吗"}) as response:
            assert response.status == 401  # no cookie kept, no header: nobody
        async with http.post("/api/chat/web-script", json={"text": "还在吗"}, headers=header) as response:
            assert response.status == 200 and (await response.json())["state"] == "waiting"
        async with http.get("/api/chat/web-script/messages?after=0", headers=header) as response:
            assert response.status == 200 and (await response.json())["state"] == "waiting"
        async with http.post("/api/chat/web-script/messages/read", json={"upto": 0}, headers=header) as response:
            assert await response.json() == {"delivered": 0}
        socket = await http.ws_connect("/ws/chat/web-script", headers=header)
        await socket.close()
    assert [text for author, text in stored_messages(settings) if author == "customer"] == ["你好", "还在吗"]


async def test_a_customer_from_before_tokens_gets_one_once(client, settings):
    with db_session(settings) as session:  # as stored before this change: no token version
        customer = Customer(channel="web", external_id="web-old")
        session.add(customer)
        session.flush()
        conversation = Conversation(customer_id=customer.id, channel="web", state="bot")
        session.add(conversation)
        session.flush()
        session.add(Message(conversation_id=conversation.id, channel="web", direction="in", author="customer",
                            text="上个月问过的"))
        session.commit()
    assert customer_row(settings, "web-old").chat_token_version is None
    response = await client.post("/api/chat/web-old", json={"text": "我又来了"})
    token = (await response.json())["chat_token"]
    assert unsign(settings.secret, token)["v"] == 1 and customer_row(settings, "web-old").chat_token_version == 1
    async with stranger(client) as other:  # the second one to come with that sender id: too late
        async with other.post("/api/chat/web-old", json={"text": "我也是"}) as refused:
            assert refused.status == 401
    assert [text for author, text in stored_messages(settings) if author == "customer"] == ["上个月问过的", "我又来了"]


async def test_a_resend_whose_answer_was_lost_gets_the_token_again_and_no_one_else_does(client, settings):
    async with script(client) as http:  # the answer (and its cookie) never arrives: nothing is kept
        async with http.post("/api/chat/web-lost", json={"text": "牛肉干能抽真空吗", "client_id": "lost-00001"}):
            pass
        async with http.post("/api/chat/web-lost", json={"text": "牛肉干能抽真空吗", "client_id": "other-0001"}) as r:
            assert r.status == 401  # a different message without the token: not the sender
        async with http.post("/api/chat/web-lost", json={"text": "牛肉干能抽真空吗", "client_id": "lost-00001"}) as r:
            resent = await r.json()
    assert r.status == 200 and unsign(settings.secret, resent["chat_token"])["sub"] == "web-lost"
    assert [text for author, text in stored_messages(settings) if author == "customer"] == ["牛肉干能抽真空吗"]


async def test_a_first_message_that_was_never_stored_can_be_sent_again(client, settings):
    with db_session(settings) as session:  # the customer was made, then storing the message failed
        session.add(Customer(channel="web", external_id="web-failed", chat_token_version=1))
        session.commit()
    async with script(client) as http:
        async with http.post("/api/chat/web-failed", json={"text": "你好", "client_id": "again-0001"}) as response:
            assert response.status == 200 and "chat_token" in await response.json()
        async with http.post("/api/chat/web-failed", json={"text": "我也来", "client_id": "again-0002"}) as response:
            assert response.status == 401  # from now on the customer has a message: the token is needed
    with db_session(settings) as session:
        assert session.scalar(select(func.count(Message.id)).where(Message.text == "我也来")) == 0


async def test_a_telegram_customers_call_stays_bound_to_their_telegram_user(aiohttp_server, aiohttp_client, settings,
                                                                              knowledge):
    """No chat token on Telegram: the Mini App's signed initData names the customer, and a web pass does not."""
    from handoff.router import ROUTER
    from tests.fake_telegram import TOKEN
    from tests.service.test_telegram import CUSTOMER, start_telegram
    from tests.unit.test_telegram_rendering import fields, signed

    _fake, client, settings = await start_telegram(
        aiohttp_server, aiohttp_client, settings.model_copy(update={"public_url": "https://shop.example"}), knowledge)
    await client.server.app[ROUTER].handle("telegram", str(CUSTOMER), "转人工")  # Rasa is down: to staff
    staff = bearer(client, "xiaoli", "staff")
    handoff = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"][0]
    assert (await client.post(f"/api/handoffs/{handoff['id']}/claim", headers=staff)).status == 200
    created = await client.post(f"/api/conversations/{handoff['conversation_id']}/calls", json={"kind": "video"},
                                headers=staff)
    call = await created.json()
    link = call["customer_url"].rsplit("/call/", 1)[1]
    someone_else = signed({**fields(), "user": '{"id": 999, "first_name": "别人"}'}, TOKEN)
    web_pass = sign(settings.secret, {"kind": "web_call", "call": call["call_id"], "sub": str(CUSTOMER),
                                      "exp": int(time.time()) + 60})

    async def join(**extra) -> dict:
        peer = CallPeer("customer")
        try:
            return await peer.join(client, f"/ws/call/{call['call_id']}",
                                   {"type": "join", "role": "customer", "token": link, **extra})
        finally:
            await peer.close()

    for extra in ({}, {"init_data": someone_else}, {"chat": web_pass}):
        answer = await join(**extra)
        assert answer == {"type": "error", "error": "open the call from the button in your Telegram chat"}, extra
    assert (await join(init_data=signed(fields(), TOKEN)))["type"] == "joined"  # the Telegram user the chat is with
