"""Staff in a Telegram group: every channel's new handoffs are posted there, claimed and answered
through the desk, like the console."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit
from telegram.ext import ContextTypes

from core.accounts import Principal, hash_password
from core.db import Conversation, Customer, Handoff, StaffAccount
from handoff.channels.telegram.channel import TelegramChannel, channel_of
from handoff.channels.telegram.sending import with_retries
from handoff.desk import Outgoing, Refused


def is_staff_chat(update: Update, channel: TelegramChannel) -> bool:
    return bool(channel.staff_chat) and str(update.effective_chat.id) == channel.staff_chat


async def announce_handoffs(bot: Bot, channel: TelegramChannel) -> None:
    """Post each new handoff to the staff group (its own forum topic when the group has topics)."""
    if not channel.staff_chat:
        return
    async with channel.sessions() as session:
        waiting = (await session.execute(
            select(Handoff, Customer).join(Conversation, Handoff.conversation_id == Conversation.id)
            .join(Customer, Conversation.customer_id == Customer.id)
            .where(Handoff.ended_at.is_(None), Handoff.claimed_by.is_(None)))).all()
        new = [(handoff, customer) for handoff, customer in waiting if not handoff.context.get("telegram_card")]
        if not new:
            return
        chat = await with_retries(lambda: bot.get_chat(channel.staff_chat), "staff chat")
        for handoff, customer in new:
            thread_id = None
            if chat.is_forum:
                topic = await with_retries(lambda: bot.create_forum_topic(
                    channel.staff_chat, f"{customer.name or customer.external_id} · #{handoff.conversation_id}"[:128]),
                    "forum topic")
                thread_id = topic.message_thread_id
            context = handoff.context
            text = (f"新的转人工 #{handoff.conversation_id}（{context.get('reason')}）\n顾客：{customer.name or '—'}"
                    f"（{customer.channel}）\n{context.get('summary') or ''}\n在这里回复（回复这条消息）即可发给顾客。")
            card = await with_retries(lambda: bot.send_message(
                channel.staff_chat, text, message_thread_id=thread_id,
                reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("认领 Claim",
                                                                         callback_data=f"claim:{handoff.id}")]])),
                "staff card")
            handoff.context = {**context, "telegram_card": card.message_id, "telegram_thread": thread_id}
        await session.commit()


async def staff_account(sessions: async_sessionmaker[AsyncSession], user) -> Principal:
    """The staff account of a member of the staff group (made on their first claim; web sign-in stays closed)."""
    name = f"tg-{user.username or user.id}"[:64]
    async with sessions() as session:
        account = await session.scalar(select(StaffAccount).where(StaffAccount.name == name))
        if account is None:
            account = StaffAccount(name=name, role="staff", password_hash=hash_password(secrets.token_urlsafe(32)))
            session.add(account)
            await session.commit()
    return Principal(account.id, account.name, account.role)


async def on_staff_claim(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Claim from the staff group: exactly one staff member wins, the card says who."""
    query, channel = update.callback_query, channel_of(context)
    if not is_staff_chat(update, channel):
        await with_retries(lambda: query.answer("只有店员群可以认领"), "answer claim")
        return
    handoff_id = int(query.data.removeprefix("claim:"))
    staff = await staff_account(channel.sessions, query.from_user)
    try:
        await channel.desk.claim(handoff_id, staff)
    except Refused:
        await with_retries(lambda: query.answer("已经有人接了"), "answer claim")
        return
    await with_retries(lambda: query.answer("认领成功"), "answer claim")
    await with_retries(lambda: query.edit_message_text(f"{query.message.text}\n\n✅ 由 {staff.name} 接待"), "edit card")


async def on_staff_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A staff message in the group, in a customer's topic or replying to their card, goes to the customer."""
    channel, message = channel_of(context), update.effective_message
    if not is_staff_chat(update, channel) or not message.text:
        return
    card_id = message.reply_to_message.message_id if message.reply_to_message else None
    async with channel.sessions() as session:
        handoffs = (await session.scalars(select(Handoff).where(Handoff.ended_at.is_(None)))).all()
        handoff = next((h for h in handoffs if card_id and h.context.get("telegram_card") == card_id), None) or next(
            (h for h in handoffs if message.message_thread_id and h.context.get("telegram_thread")
             == message.message_thread_id), None)
    if handoff is None:
        return
    staff = await staff_account(channel.sessions, message.from_user)
    reply = Outgoing(message.text[:MessageLimit.MAX_TEXT_LENGTH], {"staff": staff.name})
    try:
        await channel.desk.send(handoff.conversation_id, staff, lambda _language: reply)
    except Refused:
        await with_retries(lambda: message.reply_text("请先点“认领”再回复。"), "claim first")
