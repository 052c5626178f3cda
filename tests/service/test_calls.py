"""Calls through the real signalling with aiortc peers: P2P, the bridge, recording consent, tokens, hang-up."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from calls.bridge import call_duration_s
from calls.ice import ice_servers
from techan.app import create_app
from core.accounts import sign
from core.db import Call, ConversationEvent, make_engine
from tests.call_peer import CallPeer, web_customer_hello
from tests.conftest import wait_until
from tests.service.conftest import db_session, migrated_demo_shop
from tests.service.test_kb_admin import bearer
from tests.service.test_handoff_api import hand_off
from tests.service.test_staff_tools import claimed_chat


async def call_app(aiohttp_client, settings, knowledge, mode: str):
    settings = settings.model_copy(update={"call_mode": mode})
    migrated_demo_shop(settings)
    return await aiohttp_client(create_app(settings, knowledge=knowledge)), settings


async def start(client, sender: str, staff: dict, kind: str = "video") -> tuple[dict, int]:
    conversation_id = await claimed_chat(client, sender, staff)
    response = await client.post(f"/api/conversations/{conversation_id}/calls", json={"kind": kind}, headers=staff)
    assert response.status == 201, await response.text()
    return await response.json(), conversation_id


def token_of(call: dict) -> str:
    return call["customer_url"].rsplit("/call/", 1)[1]


async def both_join(client, call: dict, staff: dict, sender: str, consent: bool = False,
                    sizes: tuple[tuple[int, int], tuple[int, int]] = ((320, 240), (320, 240))
                    ) -> tuple[CallPeer, CallPeer]:
    """Staff, then the customer, join ``call``; ``sizes``: of the pictures they send."""
    staff_peer, customer = CallPeer("staff", size=sizes[0]), CallPeer("customer", size=sizes[1])
    url = f"/ws/call/{call['call_id']}"
    assert (await staff_peer.join(client, url, {"type": "join", "role": "staff"}, staff))["type"] == "joined"
    joined = await customer.join(client, url, await web_customer_hello(client, f"/api/chat/{sender}",
                                                                       call["customer_url"], consent))
    assert joined["type"] == "joined", joined
    return staff_peer, customer


def events(settings, conversation_id: int) -> list[str]:
    with db_session(settings) as session:
        return [e.name for e in session.scalars(select(ConversationEvent).where(
            ConversationEvent.conversation_id == conversation_id).order_by(ConversationEvent.id))]


def stored_call(settings, call_id: int) -> Call:
    with db_session(settings) as session:
        return session.get(Call, call_id)


async def test_p2p_call_connects_and_ends_cleanly_on_the_customers_hang_up(aiohttp_client, settings, knowledge):
    client, settings = await call_app(aiohttp_client, settings, knowledge, "p2p")
    staff = bearer(client, "xiaoli", "staff")
    call, conversation_id = await start(client, "web-call-p2p", staff)
    invite = (await (await client.get("/api/chat/web-call-p2p/messages?after=0")).json())["messages"][-1]
    assert invite["buttons"][0]["url"] == call["customer_url"]  # the join link reached the customer's chat
    assert (invite["buttons"][0]["call"], invite["buttons"][0]["ended"]) == (call["call_id"], False)

    staff_peer, customer = await both_join(client, call, staff, "web-call-p2p")
    try:
        await wait_until(lambda: staff_peer.received["video"] >= 5 and customer.received["video"] >= 5)
        assert staff_peer.received["audio"] > 0 and customer.received["audio"] > 0
        await wait_until(lambda: stored_call(settings, call["call_id"]).connect_ms is not None)
        await customer.hang_up()
        await wait_until(staff_peer.ended.is_set)
        ended = stored_call(settings, call["call_id"])
        assert ended.end_reason == "customer_hangup" and ended.ended_at is not None and ended.recording is None
        assert events(settings, conversation_id)[-4:] == ["call_started", "call_joined", "call_connected", "call_ended"]
        seen = (await (await client.get("/api/chat/web-call-p2p/messages?after=0")).json())["messages"]
        shown = (await (await client.get(f"/api/conversations/{conversation_id}", headers=staff)).json())["transcript"]
        duration = call_duration_s(ended)
        line = f"视频通话已结束，通话时长 {duration} 秒。"  # a few seconds: connected, then hung up
        assert [m["text"] for m in seen].count(line) == 1 and seen[-1]["text"] == line  # once, after the invitation
        assert [(m["author"], m["text"]) for m in shown if "通话已" in m["text"]] == [
            ("system", "视频通话已接通。"), ("system", line)]  # its start and its end with the length, once each
        assert [m["text"] for m in seen if "通话已" in m["text"]] == ["视频通话已接通。", line]
        reopened = (await (await client.get("/api/chat/web-call-p2p/history")).json())["messages"]
        joins = [b for m in reopened for b in m["buttons"] or [] if b.get("call") == call["call_id"]]
        assert [b["ended"] for b in joins] == [True]  # a page opened again shows the used link as ended
    finally:
        await staff_peer.close()
        await customer.close()


async def test_bridge_relays_audio_and_video_both_ways_and_records_nothing_without_consent(
        aiohttp_client, settings, knowledge):
    client, settings = await call_app(aiohttp_client, settings, knowledge, "bridge")
    staff = bearer(client, "xiaoli", "staff")
    call, _ = await start(client, "web-call-bridge", staff)
    assert call["mode"] == "bridge"
    staff_peer, customer = await both_join(client, call, staff, "web-call-bridge", consent=False)
    try:
        await wait_until(lambda: staff_peer.received["video"] >= 10 and customer.received["video"] >= 10, 30)
        await wait_until(lambda: staff_peer.received["audio"] >= 10 and customer.received["audio"] >= 10, 30)
        await staff_peer.hang_up()
        await wait_until(customer.ended.is_set)
        assert stored_call(settings, call["call_id"]).end_reason == "staff_hangup"
        assert not list((settings.data_path / "recordings").glob("*"))
    finally:
        await staff_peer.close()
        await customer.close()


async def test_bridge_forwards_the_picture_as_it_came_without_decoding_or_encoding_it(
        aiohttp_client, settings, knowledge, monkeypatch):
    """Re-encoding in the app cost half a core per call and capped a 1080p close-up at a few frames a second:
    the app's senders only packetize what the other side's browser encoded, at that browser's size."""
    from aiortc.codecs.opus import OpusEncoder
    from aiortc.codecs.vpx import Vp8Encoder

    from calls.bridge import CALLS

    def spy(original, seen):
        def wrapper(self, *args, **kwargs):
            seen.add(id(self))
            return original(self, *args, **kwargs)
        return wrapper

    encoded, packed = set(), set()
    for encoder in (Vp8Encoder, OpusEncoder):
        monkeypatch.setattr(encoder, "encode", spy(encoder.encode, encoded))
        monkeypatch.setattr(encoder, "pack", spy(encoder.pack, packed))
    client, settings = await call_app(aiohttp_client, settings, knowledge, "bridge")
    staff = bearer(client, "xiaoli", "staff")
    call, _ = await start(client, "web-call-forward", staff)
    staff_peer, customer = await both_join(client, call, staff, "web-call-forward", sizes=((640, 360), (320, 240)))
    try:
        await wait_until(lambda: staff_peer.received["video"] >= 20 and customer.received["video"] >= 20, 30)
        await wait_until(lambda: staff_peer.received["audio"] >= 20 and customer.received["audio"] >= 20, 30)
        assert customer.received_size == (640, 360) and staff_peer.received_size == (320, 240)
        answers = [m["sdp"] for peer in (staff_peer, customer) for m in peer.messages if m.get("type") == "answer"]
        assert len(answers) == 2 and all("useinbandfec=1" in sdp for sdp in answers)  # Opus FEC, passed through
        room = client.app[CALLS].rooms[call["call_id"]]
        senders = [s for pc in room.peers.values() for s in pc.getSenders()]
        app_encoders = {id(s._RTCRtpSender__encoder) for s in senders}
        assert len(senders) == 4 and app_encoders <= packed and app_encoders.isdisjoint(encoded)
        assert not any(source.tap.decoding for side in room.encoded.values() for source in side.values())
        assert all(track._queue.empty() for side in room.incoming.values() for track in side.values())  # no frames
    finally:
        await staff_peer.close()
        await customer.close()


async def test_bridge_tells_the_sender_a_new_sides_start_rate_before_asking_it_for_a_key_frame(
        aiohttp_client, settings, knowledge, monkeypatch):
    """A key frame made for the rate the staff's browser reached on its own link (150 KB for a 1080p close-up)
    filled a customer's 300 kbit/s link for seconds: the customer's first picture came after ~10 s, and in three
    calls of ten never. The app now caps the staff's estimate at a new connection's start rate when a customer
    arrives, and asks for the key frame once the encoder has had time to follow."""
    from aiortc import RTCRtpSender
    from aiortc.rtp import RTCP_PSFB_PLI, RtcpPsfbPacket

    from calls.passthrough import ENCODER_FOLLOWS_S, START_BPS, remb

    received, original = [], RTCRtpSender._handle_rtcp_packet

    async def spy(self, packet):
        received.append((self, time.monotonic(), packet))
        await original(self, packet)

    monkeypatch.setattr(RTCRtpSender, "_handle_rtcp_packet", spy)
    client, settings = await call_app(aiohttp_client, settings, knowledge, "bridge")
    staff = bearer(client, "xiaoli", "staff")
    call, _ = await start(client, "web-call-start-rate", staff)
    staff_peer, customer = CallPeer("staff"), CallPeer("customer")
    url = f"/ws/call/{call['call_id']}"
    try:
        assert (await staff_peer.join(client, url, {"type": "join", "role": "staff"}, staff))["type"] == "joined"
        await wait_until(lambda: staff_peer.connected.is_set(), 30)
        await asyncio.sleep(1.5)  # the staff send alone for a moment, as when a customer opens the link later
        staff_video = next(s for s in staff_peer.pc.getSenders() if s.track and s.track.kind == "video")
        alone = len(received)
        hello = await web_customer_hello(client, "/api/chat/web-call-start-rate", call["customer_url"])
        assert (await customer.join(client, url, hello))["type"] == "joined"
        def to_staff():
            return [(at, packet) for sender, at, packet in received[alone:] if sender is staff_video]

        def plis():
            return [at for at, p in to_staff() if isinstance(p, RtcpPsfbPacket) and p.fmt == RTCP_PSFB_PLI]

        await wait_until(lambda: customer.received["video"] >= 10 and plis(), 30)
        estimates = [(at, remb(p)[0]) for at, p in to_staff() if remb(p) is not None and at < plis()[0]]
        told = next(at for at, bitrate in estimates if bitrate == START_BPS)
        assert all(bitrate <= START_BPS for at, bitrate in estimates if at >= told)
        assert plis()[0] - told >= ENCODER_FOLLOWS_S * 0.8  # (the customer's own request waited too)
    finally:
        await staff_peer.close()
        await customer.close()


async def test_bridge_records_to_the_data_dir_only_with_consent(aiohttp_client, settings, knowledge):
    client, settings = await call_app(aiohttp_client, settings, knowledge, "bridge")
    staff = bearer(client, "xiaoli", "staff")
    call, conversation_id = await start(client, "web-call-rec", staff)
    staff_peer, customer = await both_join(client, call, staff, "web-call-rec", consent=True)
    try:
        await wait_until(lambda: staff_peer.received["video"] >= 30 and customer.received["video"] >= 30, 30)
        await customer.hang_up()
        await wait_until(staff_peer.ended.is_set)
    finally:
        await staff_peer.close()
        await customer.close()
    recording = stored_call(settings, call["call_id"]).recording
    assert recording and recording.startswith(str(settings.data_path / "recordings"))

    def webm_header() -> bool:
        with open(recording, "rb") as file:
            return file.read(4) == b"\x1a\x45\xdf\xa3"  # a WebM (Matroska) file
    await wait_until(webm_header, 10)
    assert "call_recording" in events(settings, conversation_id)


async def test_expired_used_and_forged_links_and_third_parties_are_refused(aiohttp_client, settings, knowledge):
    client, settings = await call_app(aiohttp_client, settings, knowledge, "p2p")
    staff, colleague = bearer(client, "xiaoli", "staff"), bearer(client, "xiaowang", "staff")
    call, _ = await start(client, "web-call-tokens", staff)
    url = f"/ws/call/{call['call_id']}"
    stored = stored_call(settings, call["call_id"])

    async def customer_join(token: str, hello: dict | None = None) -> dict:
        peer = CallPeer("customer")
        try:
            return await peer.join(client, url, hello or {"type": "join", "role": "customer", "token": token})
        finally:
            await peer.close()

    expired = sign(settings.secret, {"kind": "call", "call": stored.id, "nonce": stored.token_nonce,
                                     "exp": int(time.time()) - 1})
    forged = token_of(call)[:-4] + ("AAAA" if not token_of(call).endswith("AAAA") else "BBBB")
    other_call = sign(settings.secret, {"kind": "call", "call": stored.id, "nonce": "0" * 24,
                                        "exp": int(time.time()) + 60})
    for token in (expired, forged, other_call, ""):
        answer = await customer_join(token)
        assert answer["type"] == "error" and "not valid" in answer["error"], token

    staff_peer, customer = await both_join(client, call, staff, "web-call-tokens")
    try:
        hello = await web_customer_hello(client, "/api/chat/web-call-tokens", call["customer_url"])
        assert (await customer_join(token_of(call), hello))["error"] == "this call link has been used"
        intruder = CallPeer("staff")
        assert (await intruder.join(client, url, {"type": "join", "role": "staff"}, colleague))["type"] == "error"
        anonymous = CallPeer("staff")
        assert (await anonymous.join(client, url, {"type": "join", "role": "staff"}))["type"] == "error"
        await intruder.close()
        await anonymous.close()
    finally:
        await staff_peer.close()
        await customer.close()
    assert (await client.get(f"/call/{forged}")).status == 410


async def test_a_voice_call_and_stats_kept_for_the_owner(aiohttp_client, settings, knowledge):
    client, settings = await call_app(aiohttp_client, settings, knowledge, "p2p")
    staff = bearer(client, "xiaoli", "staff")
    call, conversation_id = await start(client, "web-call-voice", staff, kind="voice")
    staff_peer, customer = CallPeer("staff", video=False), CallPeer("customer", video=False)
    url = f"/ws/call/{call['call_id']}"
    await staff_peer.join(client, url, {"type": "join", "role": "staff"}, staff)
    await customer.join(client, url, await web_customer_hello(client, "/api/chat/web-call-voice", call["customer_url"]))
    try:
        await wait_until(lambda: staff_peer.received["audio"] >= 10 and customer.received["audio"] >= 10)
        assert staff_peer.received["video"] == customer.received["video"] == 0
        await customer.send({"type": "stats", "rtt_ms": 42, "loss": 0.01, "bitrate_kbps": 48})
        await wait_until(lambda: any(m.get("type") == "peer_stats" for m in staff_peer.messages))
        await wait_until(lambda: stored_call(settings, call["call_id"]).quality.get("customer"))
        assert stored_call(settings, call["call_id"]).quality["customer"]["avg_rtt_ms"] == 42
        await staff_peer.hang_up()
        await wait_until(customer.ended.is_set)
    finally:
        await staff_peer.close()
        await customer.close()
    history = (await (await client.get(f"/api/conversations/{conversation_id}/calls", headers=staff)).json())["calls"]
    assert history[0]["kind"] == "voice" and history[0]["ended"] and history[0]["duration_s"] is not None
    owner = bearer(client, "boss", "owner")
    today = (await (await client.get("/api/metrics?days=1", headers=owner)).json())["days"][0]
    assert today["calls"] == today["calls_connected"] == 1 and today["median_connect_ms"] is not None
    assert today["call_loss"] == 0.01


def test_turn_credentials_follow_coturns_rest_scheme(settings):
    import base64
    import hashlib
    import hmac

    configured = settings.model_copy(update={"stun_urls": "stun:stun.example.com:3478",
                                             "turn_url": "turn:turn.example.com:3478", "turn_secret": "s3cret"})
    stun, turn = ice_servers(configured, "xiaoli")
    assert stun == {"urls": ["stun:stun.example.com:3478"]}
    expiry, user = turn["username"].split(":")
    assert user == "xiaoli" and int(expiry) > time.time()
    expected = base64.b64encode(hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected
    assert ice_servers(settings, "x") == []  # nothing configured: host candidates only (no unreachable STUN)


async def test_an_english_customer_is_invited_and_shown_products_in_english(client):
    staff = bearer(client, "xiaoli", "staff")
    await hand_off(client, "web-call-en", "Could I see the tea on a video call?")
    handoff = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"][0]
    await client.post(f"/api/handoffs/{handoff['id']}/claim", headers=staff)
    conversation_id = handoff["conversation_id"]
    response = await client.post(f"/api/conversations/{conversation_id}/calls", json={"kind": "video"}, headers=staff)
    assert response.status == 201
    await client.post(f"/api/conversations/{conversation_id}/products", json={"product": "puer-ripe-cake"},
                      headers=staff)
    invite, shown = (await (await client.get("/api/chat/web-call-en/messages?after=0")).json())["messages"][-2:]
    assert invite["text"].startswith("Our staff would like a video call")
    assert invite["buttons"][0]["title"] == "Join the video call"
    assert shown["text"].startswith("Have a look at this one: ") and "·" in shown["products"][0]["name"]


@pytest.mark.parametrize("kind", ["", "screen"])
async def test_bad_call_requests_are_refused(client, kind):
    staff = bearer(client, "xiaoli", "staff")
    conversation_id = await claimed_chat(client, "web-call-bad", staff)
    response = await client.post(f"/api/conversations/{conversation_id}/calls", json={"kind": kind}, headers=staff)
    assert response.status == 400


@pytest.mark.parametrize("mode", ["p2p", "bridge"])
async def test_a_dropped_customer_can_rejoin_and_a_drop_that_lasts_ends_the_call(aiohttp_client, settings, knowledge,
                                                                                 monkeypatch, mode):
    import calls.bridge

    monkeypatch.setattr(calls.bridge, "RECONNECT_GRACE_S", 1.0)
    client, settings = await call_app(aiohttp_client, settings, knowledge, mode)
    staff = bearer(client, "xiaoli", "staff")
    call, _ = await start(client, "web-call-drop", staff)
    staff_peer, customer = await both_join(client, call, staff, "web-call-drop")
    rejoin = customer.messages[0]["rejoin"]
    try:
        await wait_until(lambda: customer.received["video"] >= 3)
        await customer.close()  # the phone lost its network
        await wait_until(lambda: any(m.get("type") == "peer_left" for m in staff_peer.messages))
        back = CallPeer("customer")
        answer = await back.join(client, f"/ws/call/{call['call_id']}", {"type": "join", "role": "customer",
                                                                        "rejoin": rejoin})
        assert answer["type"] == "joined"
        await wait_until(lambda: back.received["video"] >= 3)  # staff offered again; media flows
        seen_by_staff = staff_peer.received["video"]
        await wait_until(lambda: staff_peer.received["video"] >= seen_by_staff + 10)  # and the other way too
        assert stored_call(settings, call["call_id"]).ended_at is None
        await back.close()  # gone for good this time
        await wait_until(staff_peer.ended.is_set, 10)
        assert stored_call(settings, call["call_id"]).end_reason == "customer_dropped"
    finally:
        await staff_peer.close()
        await customer.close()



@pytest.mark.sqlite_only  # holds SQLite's write lock from outside
async def test_at_shutdown_a_call_ends_for_both_people_even_when_its_end_cannot_be_stored(
        aiohttp_client, settings, knowledge, caplog):
    """Another writer holding SQLite's lock past the busy timeout must not leave the people in the call waiting
    or the shutdown failing: they are told and their peers closed; the lost record is logged."""
    from calls.bridge import CALLS

    client, settings = await call_app(aiohttp_client, settings.model_copy(update={"db_busy_timeout_s": 0.2}),
                                      knowledge, "p2p")
    staff = bearer(client, "xiaoli", "staff")
    call, _ = await start(client, "web-call-locked", staff)
    staff_peer, customer = await both_join(client, call, staff, "web-call-locked")
    other = make_engine(settings).raw_connection()
    try:
        other.execute("BEGIN IMMEDIATE")
        await client.server.app[CALLS].leave()
        await wait_until(lambda: staff_peer.ended.is_set() and customer.ended.is_set())
    finally:
        other.rollback()
        other.close()
        await staff_peer.close()
        await customer.close()
    assert [m for m in customer.messages if m.get("type") == "ended"] == [{"type": "ended", "reason": "server_shutdown"}]
    assert client.server.app[CALLS].rooms == {}
    assert f"call {call['call_id']}: its end (server_shutdown) could not be stored" in caplog.text
    assert stored_call(settings, call["call_id"]).ended_at is None  # what was lost is said, not hidden
