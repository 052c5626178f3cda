"""Telegram pieces that need no network: Mini App initData checks, message splitting, buttons, Markdown."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

from handoff.channels.telegram.miniapp import verify_init_data
from core.bot_payload import ask_product_button, ask_product_payload
from handoff.channels.telegram.sending import TITLE_MARK, callback_data, pressed_text, product_caption, split_text

TOKEN = "123456:TEST-token"


def signed(fields: dict[str, str], token: str = TOKEN) -> str:
    """initData as Telegram signs it for a Mini App."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    return urlencode({**fields, "hash": hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()})


def fields(age_s: int = 10) -> dict[str, str]:
    return {"auth_date": str(int(time.time()) - age_s), "query_id": "AAH",
            "user": json.dumps({"id": 5551234, "first_name": "小王"}, ensure_ascii=False)}


def test_genuine_init_data_is_accepted():
    verified = verify_init_data(TOKEN, signed(fields()))
    assert verified is not None and json.loads(verified["user"])["id"] == 5551234


def test_forged_init_data_is_refused():
    data = fields()
    genuine = signed(data)
    tampered = genuine.replace("5551234", "5559999")  # someone else's user id, same hash
    assert verify_init_data(TOKEN, tampered) is None
    assert verify_init_data(TOKEN, signed(data, token="999:other-bot")) is None  # another bot's signature
    assert verify_init_data(TOKEN, urlencode(data)) is None  # no hash at all


def test_expired_init_data_is_refused():
    assert verify_init_data(TOKEN, signed(fields(age_s=2 * 3600)), max_age_s=3600) is None
    assert verify_init_data(TOKEN, signed(fields(age_s=60)), max_age_s=3600) is not None


def test_long_answers_are_split_at_telegram_limits():
    text = ("普洱茶的保存方法。" * 300 + "\n") * 3
    parts = split_text(text, limit=4096)
    assert all(len(p) <= 4096 for p in parts) and len(parts) >= 2
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_long_button_payloads_travel_by_a_key_of_their_own():
    """Two long suggestions used to share one mark, so pressing the second sent the first one's text."""
    short = {"title": "⭐⭐⭐⭐⭐", "payload": '/rate{"score": 5}'}
    long = [{"title": question, "payload": question} for question in (
        "普洱熟茶饼开封以后放在什么地方保存比较好呢，要不要放冰箱", "普洱生茶饼开封以后放在什么地方保存比较好呢，要不要放冰箱")]
    assert callback_data(short) == '/rate{"score": 5}'
    keys = [callback_data(button) for button in long]
    assert all(key.startswith(TITLE_MARK) and len(key.encode()) <= 64 for key in keys) and keys[0] != keys[1]
    assert keys == [callback_data(button) for button in long]  # the same payload, the same key
    assert pressed_text(keys[1], long[1]["title"]) == long[1]["title"]


def test_ask_about_this_travels_as_its_product_whatever_the_id_length():
    """An owner-made id makes /ask_product_info{"product": …} longer than 64 bytes: the id still travels."""
    product = "fengqing-dianhong-golden-bud-gift-box-for-elders-2"
    button = ask_product_button(product, "zh")
    assert len(button["payload"].encode()) > 64
    data = callback_data(button)
    assert len(data.encode()) <= 64 and pressed_text(data, "问问这个") == ask_product_payload(product)


def test_product_captions_escape_markdown():
    caption = product_caption({"name": "和田骏枣_特级*礼盒", "price": 88.0, "reason": "适合送父母 (新疆)."})
    assert caption.startswith("*和田骏枣\\_特级\\*礼盒*")
    assert "\\(新疆\\)\\." in caption and "¥88\n" in caption  # not ¥88.0 (a card stored before price_text)
    assert "458元" in product_caption({"name": "金华火腿礼盒", "price": 458.0, "price_text": "458元"})  # as answers say
    assert "¥45\\.5" in product_caption({"name": "x", "price": 45.5})


def test_a_card_changes_when_its_chat_passes_between_two_staff_of_the_same_name():
    """The card's state is keyed by the account holding the chat, so a transfer between two 小王 still brings
    the card (and its buttons, after the 转给… menu) up to date."""
    from core.db import Handoff, StaffAccount
    from handoff.channels.telegram.staff_group import card_state

    first, second = StaffAccount(id=1, name="tg-1", display_name="小王"), StaffAccount(id=2, name="tg-2", display_name="小王")
    held = [card_state(Handoff(claimed_by=staff.id, context={}), staff) for staff in (first, second)]
    assert held[0][1] == held[1][1] == "✅ 由 小王 接待" and held[0][0] != held[1][0]
