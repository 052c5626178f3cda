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
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit
from telegram.ext import ContextTypes

from core.accounts import Principal, hash_password
from core.bot_payload import REASON_LABELS
from core.db import Conversation, Customer, Handoff, Message, StaffAccount, utcnow
from handoff.channels.telegram.channel import TelegramChannel, channel_of, show
from handoff.channels.telegram.sending import after_failure, chat_wait, is_due, local_file, upload
from handoff.desk import Forbidden, Outgoing, Refused
from handoff.episodes import in_queue
from handoff.pending import LIMITED

if TYPE_CHECKING:
    from handoff.channels.telegram.outbox import Outbox

log = logging.getLogger(__name__)

ANNOUNCING = "telegram_delivery"  # handoff.context: how posting it to the staff group has fared (tries, next try)
CARD, THREAD = "telegram_card", "telegram_thread"  # handoff.context: the card's message id, its topic (None: general)
PLACE = "telegram_place"  # handoff.context: its own topic, the general thread (over the budget), or "plain" (no topics)
FORUM_RECHECK_S = 600.0  # how long whether the group has topics is believed (an admin may turn them on)
OVER_TOPIC_BUDGET = "（新话题已达每分钟上限，这位顾客就在这里：回复这条消息即可发给顾客。）"
SHOWS = "telegram_card_shows"  # handoff.context: what the card says of the chat now (waiting, claimed, …)
RELAYED = "telegram_relayed"  # handoff.context: the customer's last message shown to the group
RELAYED_IDS = "telegram_relayed_ids"  # handoff.context: the group's copies of them (a reply to one answers)
KEEP_RELAYED_IDS = 50
SEND_MEDIA = {"photo": ("send_photo", "photo"), "voice": ("send_voice", "voice"), "audio": ("send_audio", "audio"),
              "video": ("send_video", "video"), "video_note": ("send_video", "video")}  # else a document
RECENT_CARDS_DAYS = 7  # cards older than this are left as they are
CLOSED_TEXT = "这个对话已经结束，顾客不会收到这条消息。顾客再找店员时，会回到这个话题。"
RESOLVE_WORDS = ("/resolve", "已解决", "结束服务")
POSTING_STATE_HANDOFFS = 20  # the latest handoffs whose announcements tell whether the group takes cards
TRANSFER_CHOICES = 99  # colleagues offered under 转给… (Telegram shows at most 100 buttons, 返回 is one)
NOT_THE_HOLDER = "只有接待的店员可以转给别人"
TRANSFERRED_NOTICE = "↪️ 这个对话已转给 {name}，请 {name} 接着回复顾客。"
HELD_BY_ANOTHER = "这个对话现在由 {name} 接待，您的消息没有发给顾客。"


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
            for handoff, _customer in await unannounced(session)] + [
        0.0 for _ in [*await stale_cards(session), *await unrelayed(session)]]


async def posting_state(session: AsyncSession) -> tuple[str, str | None]:
    """Whether the bot can post to the group, as its latest settled announcement went: "ok", or "failing"
    with Telegram's error when that one failed for good (the bot removed, no right to make topics). One
    query of a few handoffs by their key, however long the shop has run."""
    latest = (await session.scalars(select(Handoff).order_by(Handoff.id.desc()).limit(POSTING_STATE_HANDOFFS))).all()
    for handoff in latest:
        if handoff.context.get(CARD):
            return "ok", None
        if (announcing := handoff.context.get(ANNOUNCING, {})).get("failed"):
            return "failing", announcing.get("error")
    return "ok", None


async def announce_next(outbox: Outbox, now: float) -> bool:
    """Post the oldest due handoff to the staff group; False when none is due. A failure is kept on the
    handoff (retried later, or given up after the tries) and never stops the others."""
    channel = outbox.channel
    async with channel.sessions() as session:
        due = next(((h, c) for h, c in await unannounced(session) if is_due(h.context.get(ANNOUNCING), now)), None)
        if due is None:
            return False
        handoff, customer = due
        handoff_id, context, customer_id = handoff.id, dict(handoff.context), customer.id
        title = f"{customer.name or customer.external_id}"[:128]
        text = card_text(handoff, customer)
        if RELAYED not in context:  # the card's summary covers the chat so far; later messages follow it
            context[RELAYED] = await session.scalar(select(func.coalesce(func.max(Message.id), 0)).where(
                Message.conversation_id == handoff.conversation_id, Message.direction == "in",
                Message.created_at <= handoff.created_at))
        if PLACE not in context and THREAD not in context:  # one topic per customer, whatever the handoff
            earlier = await customers_topic(session, customer_id, handoff_id)
            if earlier is not None:
                context.update({PLACE: "topic", THREAD: earlier})
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
    card = await outbox.call(chat, functools.partial(
        bot.send_message, chat, f"{text}\n{OVER_TOPIC_BUDGET}" if context[PLACE] == "general" else text,
        message_thread_id=context[THREAD], reply_markup=card_buttons(handoff_id, "waiting")))
    await note(channel, handoff_id, {CARD: card.message_id, SHOWS: "waiting", PLACE: context[PLACE],
                                     THREAD: context[THREAD], RELAYED: context.get(RELAYED, 0)})


async def has_topics(outbox: Outbox) -> bool:
    """Whether the staff group has topics (asked once in a while, through the lane)."""
    checked = outbox.staff_topics
    if checked is None or outbox.clock() - checked[1] > FORUM_RECHECK_S:
        chat = await outbox.call(outbox.channel.staff_chat, functools.partial(outbox.bot.get_chat,
                                                                               outbox.channel.staff_chat))
        checked = outbox.staff_topics = (bool(chat.is_forum), outbox.clock())
    return checked[0]


def card_text(handoff: Handoff, customer: Customer) -> str:
    """The card: numbered by handoff (a returning customer's cards share a topic), and how to answer while the
    chat is open."""
    context = handoff.context
    reason = REASON_LABELS.get(handoff.reason, handoff.reason)
    how = "\n在这里回复（回复这条消息）即可发给顾客。" if handoff.ended_at is None else ""
    return (f"新的转人工 #{handoff.id}（{reason}）\n顾客：{customer.name or '—'}（{customer.channel}）\n"
            f"{context.get('summary') or ''}{how}")


def card_buttons(handoff_id: int, shows: str) -> InlineKeyboardMarkup | None:
    """认领 while the customer waits, 结束服务 and 转给… while staff have the chat, none once it is over."""
    if shows == "waiting":
        return InlineKeyboardMarkup([[InlineKeyboardButton("认领 Claim", callback_data=f"claim:{handoff_id}")]])
    if shows.startswith("claimed"):
        return InlineKeyboardMarkup([[InlineKeyboardButton("结束服务 Resolve", callback_data=f"resolve:{handoff_id}"),
                                      InlineKeyboardButton("转给… Transfer", callback_data=f"transfer:{handoff_id}")]])
    return None


def transfer_buttons(handoff_id: int, colleagues: list[StaffAccount]) -> InlineKeyboardMarkup:
    """The card's keyboard while its holder picks whom to pass the chat to: a colleague a row (by the name
    customers know them by; ids keep the callback data short), then 返回 to the card's own buttons."""
    return InlineKeyboardMarkup([
        *([InlineKeyboardButton(c.shown_name, callback_data=f"transfer:{handoff_id}:{c.id}")] for c in colleagues),
        [InlineKeyboardButton("返回 Back", callback_data=f"transfer:{handoff_id}:back")]])


def card_state(handoff: Handoff, staff: StaffAccount | None) -> tuple[str, str]:
    """What the card should say of the chat now: a key (to notice a change) and the line under the card."""
    who = staff.shown_name if staff else ""
    if handoff.ended_at is None:
        if handoff.claimed_by is None:
            return "waiting", ""
        return f"claimed:{handoff.claimed_by}", f"✅ 由 {who} 接待"  # by account: two 小王 are two holders
    if handoff.ended_by == "customer" and handoff.claimed_by is None:
        return "cancelled", "↩️ 顾客取消了，回到机器人"
    return "ended", f"☑️ 已结束（{who} 接待）" if who else "☑️ 已结束"


async def customers_topic(session: AsyncSession, customer_id: int, handoff_id: int) -> int | None:
    """The topic an earlier handoff of this customer opened, if any: their chats stay in one place."""
    earlier = (await session.scalars(
        select(Handoff).join(Conversation, Handoff.conversation_id == Conversation.id)
        .where(Conversation.customer_id == customer_id, Handoff.id != handoff_id).order_by(Handoff.id.desc())
        .limit(20))).all()
    return next((h.context[THREAD] for h in earlier if h.context.get(THREAD)
                 and not h.context.get(ANNOUNCING, {}).get("failed")), None)  # not a topic that stopped working


async def stale_cards(session: AsyncSession) -> list[tuple[Handoff, Customer, str, str]]:
    """Recent cards that no longer say what became of their chat (claimed, resolved, cancelled)."""
    rows = (await session.execute(
        select(Handoff, Customer, StaffAccount).join(Conversation, Handoff.conversation_id == Conversation.id)
        .join(Customer, Conversation.customer_id == Customer.id)
        .outerjoin(StaffAccount, Handoff.claimed_by == StaffAccount.id)
        .where(Handoff.created_at >= utcnow() - timedelta(days=RECENT_CARDS_DAYS)).order_by(Handoff.id))).all()
    stale = []
    for handoff, customer, staff in rows:
        if handoff.context.get(CARD) and not handoff.context.get(ANNOUNCING, {}).get("failed"):
            shows, line = card_state(handoff, staff)
            if handoff.context.get(SHOWS, "waiting") != shows:
                stale.append((handoff, customer, shows, line))
    return stale


async def refresh_next(outbox: Outbox) -> bool:
    """Bring the oldest stale card up to date (its line and buttons); False when none is stale. A card that
    cannot be edited (deleted by an admin, say) is let go; flood control holds the group and it comes again."""
    channel = outbox.channel
    async with channel.sessions() as session:
        stale = await stale_cards(session)
        if not stale:
            return False
        handoff, customer, shows, line = stale[0]
        handoff_id, context, text = handoff.id, dict(handoff.context), card_text(handoff, customer)
    if context.get(PLACE) == "general":
        text = f"{text}\n{OVER_TOPIC_BUDGET}"
    try:
        await outbox.call(channel.staff_chat, functools.partial(
            outbox.bot.edit_message_text, f"{text}\n\n{line}" if line else text, chat_id=channel.staff_chat,
            message_id=context[CARD], reply_markup=card_buttons(handoff_id, shows)))
    except Exception as exc:
        if (wait := chat_wait(exc)) is not None:
            outbox.hold(channel.staff_chat, wait)
            return True
        log.warning("staff group: the card of handoff %s could not be updated: %s", handoff_id, exc)
    await note(channel, handoff_id, {SHOWS: shows})
    return True


async def unrelayed(session: AsyncSession) -> list[Handoff]:
    """Open handoffs with a card whose customer wrote since the group last saw (one query for all of them);
    what was kept over a limit (a flood) is not shown, so it cannot spend the group's budget."""
    handoffs = [h for h in (await session.scalars(select(Handoff).where(Handoff.ended_at.is_(None))
                                                  .order_by(Handoff.id))).all()
                if h.context.get(CARD) and RELAYED in h.context]
    if not handoffs:
        return []
    latest = dict((await session.execute(
        select(Message.conversation_id, func.max(Message.id)).where(
            Message.conversation_id.in_({h.conversation_id for h in handoffs}), Message.direction == "in",
            Message.delivery_status != LIMITED).group_by(Message.conversation_id))).all())
    return [h for h in handoffs if latest.get(h.conversation_id, 0) > h.context[RELAYED]]


async def relay_next(outbox: Outbox) -> bool:
    """Show the group the next message a customer with a card wrote (text, or the photo, voice note, video or
    file itself) in their topic, or as a reply to the card; False when there is none. A message that cannot be
    shown is let go (a file Telegram refuses is shown as its line of text); flood control holds the group."""
    channel, bot = outbox.channel, outbox.bot
    async with channel.sessions() as session:
        due = await unrelayed(session)
        if not due:
            return False
        handoff = due[0]
        handoff_id, context = handoff.id, dict(handoff.context)
        message = await session.scalar(select(Message).where(
            Message.conversation_id == handoff.conversation_id, Message.direction == "in",
            Message.delivery_status != LIMITED, Message.id > context[RELAYED]).order_by(Message.id).limit(1))
        payload = dict(message.payload or {})
        message_id, text = message.id, ("（已编辑）" if "edit_of" in payload else "") + (message.text or "")
    where: dict[str, Any] = {"message_thread_id": context.get(THREAD)}
    if context.get(PLACE) != "topic":
        where.update(reply_to_message_id=context[CARD], allow_sending_without_reply=True)
    line = functools.partial(bot.send_message, channel.staff_chat, f"顾客：{text}"[:MessageLimit.MAX_TEXT_LENGTH],
                             **where)
    media = payload.get("media") or {}
    shown = None
    try:
        file = local_file(media.get("url"), channel.media_dir) if media else None
        if file is not None:
            method, field = SEND_MEDIA.get(media.get("kind"), ("send_document", "document"))
            try:
                shown = await outbox.call(channel.staff_chat, functools.partial(
                    getattr(bot, method), channel.staff_chat, **{field: upload(file)},
                    caption=f"顾客：{text}"[:MessageLimit.CAPTION_LENGTH], **where))
            except Exception as exc:
                if chat_wait(exc) is not None:
                    raise
                log.warning("staff group: a customer's %s could not be posted (%s); its line is", media.get("kind"),
                            exc)
        if shown is None:
            shown = await outbox.call(channel.staff_chat, line)
    except Exception as exc:
        if (wait := chat_wait(exc)) is not None:
            outbox.hold(channel.staff_chat, wait)
            return True
        log.warning("staff group: customer message %s could not be shown for handoff %s: %s", message_id,
                    handoff_id, exc)
    copies = context.get(RELAYED_IDS, []) + ([shown.message_id] if getattr(shown, "message_id", None) else [])
    await note(channel, handoff_id, {RELAYED: message_id, RELAYED_IDS: copies[-KEEP_RELAYED_IDS:]})
    return True


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
        show(update, context, functools.partial(query.answer, "只有店员群可以认领"), "answer claim", posts=False)
        return
    handoff_id = int(query.data.removeprefix("claim:"))
    staff = await staff_account(channel.sessions, query.from_user)
    try:
        await channel.desk.claim(handoff_id, staff)
    except Refused:
        show(update, context, functools.partial(query.answer, "已经有人接了"), "answer claim", posts=False)
        return
    # the card follows the chat
    show(update, context, functools.partial(query.answer, "认领成功"), "answer claim", posts=False)


async def on_staff_resolve(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """结束服务 on a card: the staff member who has the chat (or the owner) ends it, as in the console."""
    query, channel = update.callback_query, channel_of(context)
    if not is_staff_chat(update, channel):
        show(update, context, functools.partial(query.answer, "只有店员群可以结束服务"), "answer resolve", posts=False)
        return
    async with channel.sessions() as session:
        handoff = await session.get(Handoff, int(query.data.removeprefix("resolve:")))
    staff = await staff_account(channel.sessions, query.from_user)
    answer = await resolve(channel, handoff, staff)
    show(update, context, functools.partial(query.answer, answer), "answer resolve", posts=False)


def unserved(handoff: Handoff | None) -> str | None:
    """What to tell staff acting on a card whose chat nobody holds (over, or still waiting), else None: a waiting
    customer is served before anyone ends or passes on their chat."""
    if handoff is None or handoff.ended_at is not None:
        return "这个对话已经结束了"
    if handoff.claimed_by is None:
        return "请先点“认领”"
    return None


async def resolve(channel: TelegramChannel, handoff: Handoff | None, staff: Principal) -> str:
    """End the handoff's chat through the desk; what to tell the staff member."""
    if refusal := unserved(handoff):
        return refusal
    try:
        await channel.desk.resolve(handoff.conversation_id, staff)
    except Forbidden:
        return "只有接待的店员可以结束服务"
    except Refused:
        return "请先点“认领”"
    return "已结束服务，顾客会收到评价邀请"


async def on_staff_transfer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """转给… on a card: its holder (or the owner) gets the active colleagues as the card's buttons, and the one
    pressed takes the chat through the desk, as in the console (the customer is told, the card says who has it
    now); 返回 puts the card's own buttons back."""
    query, channel = update.callback_query, channel_of(context)
    if not is_staff_chat(update, channel):
        show(update, context, functools.partial(query.answer, "只有店员群可以转给别人"), "answer transfer", posts=False)
        return
    handoff_id, _, choice = query.data.removeprefix("transfer:").partition(":")
    staff = await staff_account(channel.sessions, query.from_user)
    async with channel.sessions() as session:
        handoff = await session.get(Handoff, int(handoff_id))
        refusal = unserved(handoff)
        if refusal is None and staff.id != handoff.claimed_by and staff.role != "owner":
            refusal = NOT_THE_HOLDER
        colleagues = (await session.scalars(select(StaffAccount).where(
            StaffAccount.active.is_(True), StaffAccount.id != (handoff.claimed_by if handoff else None))
            .order_by(StaffAccount.id).limit(TRANSFER_CHOICES))).all()
    answer, then = refusal, []  # the press is answered first; the card's edit and a notice follow
    if refusal is None and choice.isdigit():
        to = next((c for c in colleagues if c.id == int(choice)), None)
        answer = await transfer(channel, handoff, staff, to)
        if answer is None:  # a card's edit notifies nobody: the colleague is told in the topic
            answer = f"已转给 {to.shown_name}"
            then.append((functools.partial(query.message.reply_text, TRANSFERRED_NOTICE.format(
                name=to.shown_name), message_thread_id=handoff.context.get(THREAD)), "transfer notice"))
    elif refusal is None and choice != "back" and not colleagues:
        answer = "没有其他店员可以转"
    elif refusal is None:
        buttons = transfer_buttons(handoff.id, colleagues) if choice != "back" else card_buttons(
            handoff.id, handoff.context.get(SHOWS, "waiting"))
        then.append((functools.partial(query.edit_message_reply_markup, reply_markup=buttons), "transfer menu"))
    show(update, context, functools.partial(query.answer, answer), "answer transfer", posts=False)
    for send, what in then:
        show(update, context, send, what)


async def transfer(channel: TelegramChannel, handoff: Handoff, staff: Principal, to: StaffAccount | None
                   ) -> str | None:
    """Pass the handoff's chat to a colleague through the desk; None when done, else what to tell the staff
    member."""
    try:
        await channel.desk.transfer(handoff.conversation_id, staff, to.name if to else "")
    except Forbidden:
        return NOT_THE_HOLDER
    except Refused:  # the colleague left, or took the chat meanwhile
        return "没能转给这位店员，请重新点“转给…”"
    return None


async def on_staff_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A staff message in the group, in a customer's topic or replying to their card, goes to the customer;
    /resolve or 已解决 there ends the chat; in a chat that is over it gets a notice instead of vanishing."""
    channel, message = channel_of(context), update.effective_message
    if not is_staff_chat(update, channel) or not message.text:
        return
    card_id = message.reply_to_message.message_id if message.reply_to_message else None
    async with channel.sessions() as session:
        handoffs = (await session.scalars(select(Handoff).where(
            Handoff.created_at >= utcnow() - timedelta(days=RECENT_CARDS_DAYS)).order_by(Handoff.id.desc()))).all()
    by_card = [h for h in handoffs if card_id and (h.context.get(CARD) == card_id
                                                   or card_id in h.context.get(RELAYED_IDS, []))]
    in_topic = [h for h in handoffs if message.message_thread_id and h.context.get(THREAD) == message.message_thread_id]
    handoff = next((h for h in by_card + in_topic if h.ended_at is None), None) or next(iter(by_card + in_topic), None)
    if handoff is None:
        return
    command = message.text.strip().split("@")[0]
    if command.startswith("/") and command not in RESOLVE_WORDS:  # another bot's command, not for the customer
        return
    staff = await staff_account(channel.sessions, message.from_user)
    say = functools.partial(message.reply_text)
    if command in RESOLVE_WORDS:
        show(update, context, functools.partial(say, await resolve(channel, handoff, staff)), "resolve")
        return
    if handoff.ended_at is not None:
        show(update, context, functools.partial(say, CLOSED_TEXT), "closed topic")
        return
    reply = Outgoing(message.text[:MessageLimit.MAX_TEXT_LENGTH], {"staff": staff.name})
    try:
        await channel.desk.send(handoff.conversation_id, staff, lambda _language: reply)
    except Forbidden:  # a colleague has it (it was passed on, or they claimed it first)
        async with channel.sessions() as session:
            holder = await session.get(StaffAccount, handoff.claimed_by) if handoff.claimed_by else None
        show(update, context, functools.partial(say, HELD_BY_ANOTHER.format(
            name=holder.shown_name if holder else "别的店员")), "held by another")
    except Refused:
        show(update, context, functools.partial(say, "请先点“认领”再回复。"), "claim first")
