"""The group bot's brain, the same on every chat platform: message text in, reply text out.

``handle(lib, text)`` returns the reply, or None when the bot should stay quiet: the message is
not a question, a command or addressed to the bot, or the archive has no confident answer (an
"I don't know" in a busy group is noise; a question nobody answers is the better failure).
Platform adapters (``bot.telegram``) only move text in and out.

Understood:
- a question ("how do I start with CUDA?"), or any message starting with the bot's mention
  ("@aidlbot cuda books"): answered with ``ask``, with numbered sources;
- ``/ask QUESTION``: the same, but an abstention is said out loud, with the nearest topics;
- ``/path TOPIC``: a short reading path;
- ``/related TEXT``: the closest past items;
- ``/help`` (or ``/start``): what the bot does.

Examples
--------
>>> split_mention("@aidlbot, how do I learn CUDA?", ("aidlbot",))
('aidlbot', 'how do I learn CUDA?')
>>> parse_command("/path@aidlbot semantic segmentation")
('path', 'aidlbot', 'semantic segmentation')
>>> looks_like_question("Any good books on GANs?")
True
"""
from __future__ import annotations

import re

from ..errors import AidlgraphError, InputError, UnknownTopicError

MAX_REPLY = 3500          # characters; Telegram's limit is 4096, other platforms' are larger
MAX_MESSAGE = 4000        # characters of an incoming message considered at all
DEFAULT_NAMES = ("aidlbot", "aidlgraph")
PATH_STEPS = 12
RELATED_RESULTS = 5
HELP = ("I answer from the AIDL archive.\n"
        "Ask a question, or mention me with one.\n"
        "/path TOPIC: a reading path (prerequisites first)\n"
        "/related TEXT: past items related to TEXT\n"
        "/ask QUESTION: an answer with sources, or an honest \"I don't know\"")

_MENTION = re.compile(r"^@(\w{1,64})\b[\s,:;.!-]*")
_COMMAND = re.compile(r"^/(\w{1,32})(?:@(\w{1,64}))?(?:\s+|$)")
_QUESTION = re.compile(
    r"^(how|what|what's|where|which|who|whom|whose|why|when|can|could|should|would|will|is|are|was|were|do|does|"
    r"did|has|have|any|anyone|anybody|someone|somebody|recommend|suggest|suggestions|looking for|i'm looking|"
    r"i am looking|where's|how's)\b", re.I)


def split_mention(text: str, names: tuple[str, ...] = DEFAULT_NAMES) -> tuple[str | None, str]:
    """(the name of a leading @mention, the text after it); (None, text) without one."""
    m = _MENTION.match(text)
    if not m:
        return None, text
    name = m.group(1)
    rest = text[m.end():]
    if name.lower() in {n.lower() for n in names}:  # our name mentioned again later is just noise
        rest = re.sub(rf"@{re.escape(name)}\b", "", rest, flags=re.I)
    return name, " ".join(rest.split())


def parse_command(text: str) -> tuple[str, str | None, str] | None:
    """(command, addressed bot or None, argument) of a "/command@bot argument" message."""
    m = _COMMAND.match(text)
    if not m:
        return None
    return m.group(1).lower(), m.group(2), text[m.end():].strip()


def looks_like_question(text: str) -> bool:
    text = text.strip()
    return text.endswith("?") or bool(_QUESTION.match(text))


def handle(lib, text: str, names: tuple[str, ...] = DEFAULT_NAMES, direct: bool = False) -> str | None:
    """The reply to one chat message, or None to stay quiet.

    Parameters
    ----------
    lib : Library
        The library to answer from.
    text : str
        The message as the user wrote it.
    names : tuple of str
        The bot's own names: a leading ``@name`` (or ``/command@name``) with one of them addresses
        the bot, and is removed; a leading mention of anyone else means the message is not for it.
    direct : bool
        A one-to-one chat: every message is for the bot, question-shaped or not.

    Returns
    -------
    str or None
        Plain text of at most MAX_REPLY characters, or None.
    """
    text = (text or "").strip()
    if not text or len(text) > MAX_MESSAGE:
        return None
    ours = {n.lower() for n in names}
    mention, body = split_mention(text, names)
    if mention is not None and mention.lower() not in ours:
        return None
    addressed = direct or mention is not None
    command = parse_command(body)
    if command is not None:
        name, target, arg = command
        if target is not None and target.lower() not in ours:
            return None
        return _command(lib, name, arg)
    if not body or not (addressed or looks_like_question(body)):
        return None
    return _answer(lib, body, say_unknown=False)


def _command(lib, name: str, arg: str) -> str | None:
    if name in ("help", "start"):
        return HELP
    if name == "ask":
        return _answer(lib, arg, say_unknown=True) if arg else "Usage: /ask QUESTION"
    if name == "path":
        return _path(lib, arg) if arg else "Usage: /path TOPIC, e.g. /path semantic segmentation"
    if name == "related":
        return _related(lib, arg) if arg else "Usage: /related TEXT, e.g. /related pruning large language models"
    return None  # another bot's command, or a typo: not ours to answer


def _answer(lib, question: str, say_unknown: bool) -> str | None:
    from ..query.ask import ask
    from ..views import answer_text, source_line

    try:
        result = ask(lib, question)
    except InputError as exc:
        return f"Sorry: {exc}" if say_unknown else None
    if not result["answered"]:
        return answer_text(result) if say_unknown else None
    cited = [s for s in result["sources"] if s.get("role", "answer") == "answer"]
    more = [s for s in result["sources"] if s.get("role") == "read more"]
    lines = [source_line(s) for s in cited] + (["To read more:"] + [source_line(s) for s in more] if more else [])
    return fit([result["answer"], "", "Sources:"], lines)


def _path(lib, topic: str) -> str:
    from ..query.path import reading_path
    from ..views import duration_text

    try:
        p = reading_path(lib, topic)
    except UnknownTopicError as exc:
        near = ", ".join(exc.suggestions)
        return f"I know no topic close to \"{topic[:100]}\"." + (f" Try: {near}" if near else "")
    except AidlgraphError as exc:
        return f"Sorry: {exc}"
    head = f"Reading path to {p.topic}: {len(p.topics)} topics, about {duration_text(p.minutes)}"
    lines = []
    for s in p.steps[:PATH_STEPS]:
        what = f"{s.title} (topic)" if s.kind == "topic" else s.title + (f" <{s.url}>" if s.url else "")
        lines.append(f"{s.position}. {what}" + ("" if s.title == s.topic else f" [{s.topic}]"))
    if len(p.steps) > PATH_STEPS:
        lines.append(f"... and {len(p.steps) - PATH_STEPS} more steps (aidlgraph path \"{p.topic}\")")
    return fit([head], lines)


def _related(lib, text: str) -> str:
    from ..query.related import related

    try:
        result = related(lib, text, k=RELATED_RESULTS)
    except AidlgraphError as exc:
        return f"Sorry: {exc}"
    if not result["results"]:
        return "Nothing related in the archive."
    lines = [f"{n}. {r['title']}" + (f" <{r['url']}>" if r["url"] else "") + f" ({r['source'] or r['kind']})"
             for n, r in enumerate(result["results"], 1)]
    return fit(["Related from the archive:"], lines)


def fit(head: list[str], items: list[str], limit: int = MAX_REPLY) -> str:
    """``head`` then ``items``, one a line, in at most ``limit`` characters. Items (the sources)
    keep at least half the room; a long head (the answer) is cut with an ellipsis."""
    text = "\n".join(head + items)
    if len(text) <= limit:
        return text
    first = "\n".join(head)
    budget = limit - min(len(first), limit // 2) - 1
    kept, size = [], 0
    for line in items:
        line = line[:budget]
        if size + len(line) + 1 > budget:
            break
        kept.append(line)
        size += len(line) + 1
    room = limit - size - 1
    if len(first) > room:
        first = first[:room - 1].rstrip() + "…"
    return "\n".join([first, *kept])
