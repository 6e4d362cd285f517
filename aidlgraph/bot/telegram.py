"""The group bot on Telegram: python-telegram-bot moves messages; ``bot.handle`` answers them.

python-telegram-bot (the ``telegram`` extra) is imported inside ``run``, so the rest of aidlgraph,
and ``make_handler`` (which the tests drive with stand-in update objects), work without it.

In a group the bot sees every message only when its privacy mode is off (@BotFather,
/setprivacy); with privacy on it still gets commands and messages that mention it.
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, Callable

from ..errors import AidlgraphError, LibraryError
from . import DEFAULT_NAMES, handle

log = logging.getLogger("aidlgraph.bot")


def make_handler(service, reply_options: dict | None = None) -> Callable[[Any, Any], Awaitable[None]]:
    """The message callback: runs ``bot.handle`` on the shared library (in a worker thread, so
    polling goes on) and replies when it has something to say."""
    options = dict(reply_options or {})

    async def on_message(update, context) -> None:
        message = getattr(update, "effective_message", None)
        text = getattr(message, "text", None)
        if not text:
            return
        chat = getattr(update, "effective_chat", None)
        username = getattr(getattr(context, "bot", None), "username", None)
        names = ((username,) if username else ()) + DEFAULT_NAMES
        private = getattr(chat, "type", None) == "private"
        try:
            reply = await asyncio.to_thread(service.call, handle, text, names=names, direct=private)
        except AidlgraphError as exc:  # the library is locked, missing or mismatched: log, stay quiet
            log.warning("cannot answer: %s", exc)
            return
        if reply:
            await message.reply_text(reply, **options)

    return on_message


def run(token: str, library: str | os.PathLike | None = None) -> None:
    """Answer messages with the library at ``library`` until interrupted (long polling)."""
    try:
        from telegram import LinkPreviewOptions
        from telegram.ext import Application, MessageHandler, filters
    except ImportError:
        raise LibraryError("the Telegram bot needs python-telegram-bot; run `pip install 'aidlgraph[telegram]'`") from None
    from ..service import LibraryService

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    service = LibraryService(library)
    service.warm()

    async def on_error(update, context) -> None:
        log.error("error while handling an update: %s", context.error, exc_info=context.error)

    application = Application.builder().token(token).build()
    application.add_handler(MessageHandler(
        filters.TEXT & filters.UpdateType.MESSAGE,
        make_handler(service, {"link_preview_options": LinkPreviewOptions(is_disabled=True)})))
    application.add_error_handler(on_error)
    log.info("answering from %s; stop with Ctrl-C", service.path)
    try:
        application.run_polling(allowed_updates=["message"])
    finally:
        service.close()
