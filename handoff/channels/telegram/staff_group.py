"""Staff in a Telegram group: every channel's new handoffs are posted there, claimed and answered
through the desk, like the console.

Each handoff's announcement is a delivery of its own in the outbox's staff-group lane: a failure is
retried on its own (its progress kept on the handoff, so a retry never makes a second topic) and the
others go on. A group with topics gets one topic per chat, at most ``limit_topics_per_minute`` a minute;
over that budget the card goes to the group's general thread at once, because a waiting customer matters
more than tidy topics, and a topic made later would split one chat across two places. Staff answer
such a card by replying to it.
"""

from __future__ import annotations

import functools
import logging
import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit
from telegram.ext import ContextTypes

from core.accounts import Principal, hash_password
from core.db import Conversation, Customer, Handoff, StaffAccount
from handoff.channels.telegram.channel import TelegramChannel, channel_of, show
from handoff.channels.telegram.sending import after_failure, chat_wait, is_due
from handoff.desk import Outgoing, Refused
from handoff.episodes import in_queue

if TYPE_CHECKING:
    from handoff.channels.telegram.outbox import Outbox

log = logging.getLogger(__name__)

ANNOUNCING = "telegram_delivery"  # handoff.context: how posting it to the staff group has fared (tries, next try)
CARD, THREAD = "telegram_card", "telegram_thread"  # handoff.context: the card's message id, its topic (None: general)
PLACE = "telegram_place"  # handoff.context: its own topic, the general thread (over the budget), or "plain" (no topics)
FORUM_RECHECK_S = 600.0  # how long whether the group has topics is believed (an admin may turn them on)
OVER_TOPIC_BUDGET = "（新话题已达每分钟上限，这位顾客就在这里：回复这条消息即可发给顾客。）"


def is_staff_chat(update: Update, channel: TelegramChannel) -> bool:
    return bool(channel.staff_chat) and str(update.effective_chat.id) == channel.staff_chat


async def unannounced(session: AsyncSession) -> list[tuple[Handoff, Customer]]:
    """Handoffs in the queue that the group has no card of yet (and that have not failed for good); one set
    aside by a network limit is not announced."""
    waiting = (await session.execute(
        select(Handoff, Customer).join(Conversation, Handoff.conversation_id == Conversation.id)
        .join(Customer, Conversation.customer_id == Customer.id)
        .where(*in_queue()).order_by(Handoff.id))).all()
    return [(handoff, customer) for handoff, customer in waiting if not handoff.context.get(CARD)
            and not handoff.context.get(ANNOUNCING, {}).get("failed")]


async def announcement_times(session: AsyncSession) -> list[float]:
    """When each announcement still to make falls due (0: now), for the outbox's round."""
    return [float(handoff.context.get(ANNOUNCING, {}).get("retry_at", 0.0))
            for handoff, _customer in await unannounced(session)]


async def announce_next(outbox: Outbox, now: float) -> bool:
    """Post the oldest due handoff to the staff group; False when none is due. A failure is kept on the
    handoff (retried later, or given up after the tries) and never stops the others."""
    channel = outbox.channel
    async with channel.sessions() as session:
        due = next(((h, c) for h, c in await unannounced(session) if is_due(h.context.get(ANNOUNCING), now)), None)
        if due is None:
            return False
        handoff, customer = due
        handoff_id, context = handoff.id, dict(handoff.context)
        title = f"{customer.name or customer.external_id} · #{handoff.conversation_id}"[:128]
        text = (f"新的转人工 #{handoff.conversation_id}（{context.get('reason')}）\n顾客：{customer.name or '—'}"
                f"（{customer.channel}）\n{context.get('summary') or ''}\n在这里回复（回复这条消息）即可发给顾客。")
    try:
        await announce(outbox, handoff_id, context, title, text)
    except Exception as exc:
        outcome = after_failure(context.get(ANNOUNCING) or {}, exc, outbox.clock())
        outbox.hold(channel.staff_chat, outcome.hold_chat_s)
        if chat_wait(exc) is None:  # a wait for the group's budget or flood control is no failure of this card
            log.log(logging.ERROR if outcome.failed else logging.WARNING, "announcing handoff %s to the staff group "
                    "failed%s: %s", handoff_id, " for good" if outcome.failed else ", tried again later",
                    outcome.record["error"])
        await note(channel, handoff_id, {ANNOUNCING: {**outcome.record, "failed": outcome.failed}})
    return True


async def announce(outbox: Outbox, handoff_id: int, context: dict[str, Any], title: str, text: str) -> None:
    """Its topic (within the budget) or the general thread, then the card with 认领; each step is kept as
    soon as it is done, so a retry goes on from there."""
    channel, bot = outbox.channel, outbox.bot
    chat = channel.staff_chat
    if PLACE not in context:  # decided once, so a retry (paced, refused) never spends the topic budget again
        place = "plain"
        if await has_topics(outbox):
            place = "topic"
            if await channel.limits.hit("telegram:topics", channel.settings.limit_topics_per_minute, 60.0):
                log.warning("staff group: over %d new topics a minute; handoff %s is posted in the general thread",
                            channel.settings.limit_topics_per_minute, handoff_id)
                place = "general"
        context[PLACE] = place
        await note(channel, handoff_id, {PLACE: place})
    if THREAD not in context:
        thread_id = None
        if context[PLACE] == "topic":
            topic = await outbox.call(chat, functools.partial(bot.create_forum_topic, chat, title))
            thread_id = topic.message_thread_id
        context[THREAD] = thread_id
        await note(channel, handoff_id, {THREAD: thread_id})
    claim = InlineKeyboardMarkup([[InlineKeyboardButton("认领 Claim", callback_data=f"claim:{handoff_id}")]])
    card = await outbox.call(chat, functools.partial(
        bot.send_message, chat, f"{text}\n{OVER_TOPIC_BUDGET}" if context[PLACE] == "general" else text,
        message_thread_id=context[THREAD], reply_markup=claim))
    await note(channel, handoff_id, {CARD: card.message_id})


async def has_topics(outbox: Outbox) -> bool:
    """Whether the staff group has topics (asked once in a while, through the lane)."""
    checked = outbox.staff_topics
    if checked is None or outbox.clock() - checked[1] > FORUM_RECHECK_S:
        chat = await outbox.call(outbox.channel.staff_chat, functools.partial(outbox.bot.get_chat,
                                                                               outbox.channel.staff_chat))
        checked = outbox.staff_topics = (bool(chat.is_forum), outbox.clock())
    return checked[0]


async def note(channel: TelegramChannel, handoff_id: int, changes: dict[str, Any]) -> None:
    """Keep announcing progress on the handoff, read fresh (the desk may have changed it meanwhile)."""
    async with channel.sessions() as session:
        handoff = await session.get(Handoff, handoff_id)
        handoff.context = {**handoff.context, **changes}
        await session.commit()


async def staff_account(sessions: async_sessionmaker[AsyncSession], user) -> Principal:
    """The staff account of a member of the staff group (made on their first claim; web sign-in stays closed),
    shown to customers by their Telegram first name."""
    name = f"tg-{user.username or user.id}"[:64]
    async with sessions() as session:
        account = await session.scalar(select(StaffAccount).where(StaffAccount.name == name))
        if account is None:
            account = StaffAccount(name=name, role="staff", password_hash=hash_password(secrets.token_urlsafe(32)),
                                   display_name=(user.first_name or "").strip()[:32] or None)
            session.add(account)
            await session.commit()
    return Principal(account.id, account.name, account.role)


async def on_staff_claim(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Claim from the staff group: exactly one staff member wins, the card says who."""
    query, channel = update.callback_query, channel_of(context)
    if not is_staff_chat(update, channel):
        show(update, context, functools.partial(query.answer, "只有店员群可以认领"), "answer claim")
        return
    handoff_id = int(query.data.removeprefix("claim:"))
    staff = await staff_account(channel.sessions, query.from_user)
    try:
        await channel.desk.claim(handoff_id, staff)
    except Refused:
        show(update, context, functools.partial(query.answer, "已经有人接了"), "answer claim")
        return
    show(update, context, functools.partial(query.answer, "认领成功"), "answer claim")
    show(update, context, functools.partial(query.edit_message_text, f"{query.message.text}\n\n✅ 由 {staff.name} 接待"),
         "edit card")


async def on_staff_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A staff message in the group, in a customer's topic or replying to their card, goes to the customer."""
    channel, message = channel_of(context), update.effective_message
    if not is_staff_chat(update, channel) or not message.text:
        return
    card_id = message.reply_to_message.message_id if message.reply_to_message else None
    async with channel.sessions() as session:
        handoffs = (await session.scalars(select(Handoff).where(Handoff.ended_at.is_(None)))).all()
        handoff = next((h for h in handoffs if card_id and h.context.get(CARD) == card_id), None) or next(
            (h for h in handoffs if message.message_thread_id and h.context.get(THREAD)
             == message.message_thread_id), None)
    if handoff is None:
        return
    staff = await staff_account(channel.sessions, message.from_user)
    reply = Outgoing(message.text[:MessageLimit.MAX_TEXT_LENGTH], {"staff": staff.name})
    try:
        await channel.desk.send(handoff.conversation_id, staff, lambda _language: reply)
    except Refused:
        show(update, context, functools.partial(message.reply_text, "请先点“认领”再回复。"), "claim first")
