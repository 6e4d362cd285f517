"""The platform-neutral bot handler on the mini library, and the Telegram adapter without Telegram."""
from __future__ import annotations

import asyncio
import importlib.util
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from aidlgraph import bot
from aidlgraph.bot import MAX_REPLY, fit, handle, looks_like_question, parse_command, split_mention

QUESTION = "How do I start with image segmentation?"


@pytest.fixture(scope="module")
def lib(shared_library):
    return shared_library


# -- parsing -----------------------------------------------------------------------------------
def test_split_mention():
    assert split_mention("@aidlbot: what is CUDA?") == ("aidlbot", "what is CUDA?")
    assert split_mention("@AIDLbot thanks @aidlbot") == ("AIDLbot", "thanks")
    assert split_mention("@alice what is CUDA?") == ("alice", "what is CUDA?")
    assert split_mention("what is CUDA? @aidlbot") == (None, "what is CUDA? @aidlbot")


def test_parse_command():
    assert parse_command("/path cuda basics") == ("path", None, "cuda basics")
    assert parse_command("/Related@aidlbot  a draft ") == ("related", "aidlbot", "a draft")
    assert parse_command("/help") == ("help", None, "")
    assert parse_command("a/b testing") is None


@pytest.mark.parametrize("text,expected", [
    ("How do I learn CUDA?", True), ("any good books on GANs", True), ("recommend a course on RL", True),
    ("cuda books?", True), ("Great meetup yesterday", False), ("I read the paper", False),
])
def test_looks_like_question(text, expected):
    assert looks_like_question(text) is expected


# -- answers -----------------------------------------------------------------------------------
def test_answers_a_question_with_numbered_sources(lib):
    reply = handle(lib, QUESTION)
    assert reply is not None and "cs231n" in reply.lower()
    assert "\nSources:\n[1] How do I start with image segmentation?" in reply
    assert len(reply) <= MAX_REPLY


def test_abstains_off_topic_and_ignores_chatter(lib):
    assert handle(lib, "What will the weather be in Lisbon tomorrow?") is None
    assert handle(lib, "Great meetup yesterday, thanks all") is None
    assert handle(lib, "") is None and handle(lib, "   ") is None
    assert handle(lib, "x" * 10_000 + "?") is None


def test_mentions(lib):
    plain = handle(lib, QUESTION)
    assert handle(lib, f"@aidlbot {QUESTION}") == plain
    assert handle(lib, f"@AidlBot, {QUESTION}") == plain
    # addressed, so even a message that is not phrased as a question is answered
    assert handle(lib, "@aidlbot start with image segmentation") is not None
    assert handle(lib, "start with image segmentation") is None
    # a message for someone else is not ours, and custom names work
    assert handle(lib, f"@alice {QUESTION}") is None
    assert handle(lib, f"@segbot {QUESTION}", names=("segbot",)) == plain
    # a one-to-one chat: everything is for the bot
    assert handle(lib, "start with image segmentation", direct=True) is not None


def test_path_command(lib):
    reply = handle(lib, "/path unified memory")
    assert reply.startswith("Reading path to unified memory: 4 topics")
    lines = reply.splitlines()
    order = [next(n for n, line in enumerate(lines) if t in line) for t in ("c programming", "cuda basics", "Unified Memory")]
    assert order == sorted(order)
    assert handle(lib, "/path@aidlbot unified memory") == reply
    assert handle(lib, "@aidlbot /path unified memory") == reply
    assert handle(lib, "/path@otherbot unified memory") is None
    assert handle(lib, "/path").startswith("Usage: /path TOPIC")
    unknown = handle(lib, "/path zzqx vvbn wwk")
    assert unknown.startswith("I know no topic close to") and "Try:" in unknown


def test_related_and_ask_commands(lib):
    reply = handle(lib, "/related pinned memory and host to device transfers")
    assert reply.startswith("Related from the archive:\n1. ")
    assert "How to Optimize Data Transfers in CUDA C/C++" in reply
    assert handle(lib, "/related").startswith("Usage")
    assert handle(lib, f"/ask {QUESTION}") == handle(lib, QUESTION)
    dont_know = handle(lib, "/ask What will the weather be in Lisbon tomorrow?")
    assert dont_know.startswith("I don't know") and "Nearest topics:" in dont_know
    assert handle(lib, "/help") == bot.HELP == handle(lib, "/start")
    assert handle(lib, "/unknowncommand cuda") is None


def test_replies_fit_the_cap():
    sources = [f"{n}. Source number {n} <https://example.com/{n}>" for n in range(1, 6)]
    reply = fit(["A" * 10_000, "", "Sources:"], sources, limit=500)
    assert len(reply) <= 500 and reply.endswith(sources[-1]) and "…" in reply
    many = fit(["Head"], [f"{n}. " + "x" * 100 for n in range(200)], limit=1000)
    assert len(many) <= 1000 and many.startswith("Head\n0. ")
    assert fit(["short"], ["1. a"]) == "short\n1. a"


def test_long_answers_are_capped(lib, monkeypatch):
    import aidlgraph.query.ask

    real = aidlgraph.query.ask.ask

    def long_answer(library, question):
        result = real(library, question)
        return {**result, "answer": "word " * 5000}

    monkeypatch.setattr(aidlgraph.query.ask, "ask", long_answer)
    reply = handle(lib, QUESTION)
    assert len(reply) <= MAX_REPLY and "[1] How do I start with image segmentation?" in reply


# -- the Telegram adapter, without Telegram ----------------------------------------------------------
class FakeMessage:
    def __init__(self, text):
        self.text = text
        self.replies = []

    async def reply_text(self, text, **kwargs):
        self.replies.append((text, kwargs))


def deliver(handler, text, chat_type="group", username="aidlbot"):
    message = FakeMessage(text)
    update = SimpleNamespace(effective_message=message, effective_chat=SimpleNamespace(type=chat_type))
    context = SimpleNamespace(bot=SimpleNamespace(username=username))
    asyncio.run(handler(update, context))
    return message.replies


def test_telegram_handler_replies_through_the_neutral_handler(lib):
    from aidlgraph.bot.telegram import make_handler
    from aidlgraph.service import LibraryService

    service = LibraryService(lib.path)
    handler = make_handler(service, {"disable_notification": True})
    try:
        [(text, kwargs)] = deliver(handler, QUESTION)
        assert text == handle(lib, QUESTION) and kwargs == {"disable_notification": True}
        assert deliver(handler, "nice weather today") == []
        assert len(deliver(handler, "start with image segmentation", chat_type="private")) == 1
        assert len(deliver(handler, "/path@my_aidl_bot cuda", username="my_aidl_bot")) == 1
        assert deliver(handler, None) == []
    finally:
        service.close()


@pytest.mark.skipif(importlib.util.find_spec("telegram") is not None, reason="python-telegram-bot is installed")
def test_telegram_run_says_what_to_install(lib):
    from aidlgraph.bot.telegram import run
    from aidlgraph.errors import LibraryError

    with pytest.raises(LibraryError, match=r"pip install 'aidlgraph\[telegram\]'"):
        run("123:abc", lib.path)


def test_bot_command_needs_a_token(monkeypatch):
    from aidlgraph.cli import cli

    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["bot", "telegram"])
    assert result.exit_code == 2 and "TELEGRAM_BOT_TOKEN" in result.output
