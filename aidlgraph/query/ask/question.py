"""What a member's question asks for, read from its words alone (no library needed).

- ``intent``: ``define`` ("what is LARS?"), ``learn`` ("where can I learn CUDA?") or ``ask``;
- ``wants``: the specific a supporting passage must contain: ``money`` ("how much did Google
  pay"), ``number`` ("how many", "how long"), ``person`` ("who debunked DeepCoder?"), ``date``
  ("when"), ``comparison`` ("T4 vs V100"), or nothing;
- ``timely``: ``recommend`` ("what GPU should I buy in 2026?", "the latest TensorFlow") when the
  answer must be current, ``now`` ("how many members these days?") when an answer dated by the
  archive is still worth giving, or nothing.

Examples
--------
>>> q = analyse("How much did Google pay for Kaggle?")
>>> q.intent, q.wants, q.timely
('ask', 'money', '')
>>> analyse("who debunked DeepCoder?").wants
'person'
>>> analyse("What GPU should I buy in 2026?").timely
'recommend'
>>> analyse("How many members does the AIDL group have these days?").timely
'now'
>>> analyse("semantic vs instance segmentation, what's the difference?").wants
'comparison'
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Words that say what kind of answer is wanted, not what it is about: they count for neither
# the lexical score nor a topic name's share of the question.
GENERIC = set("""what whats how where why when who which is are was does do did can could should would will
learn learned learning learns study studying read reading start started starting begin beginning beginner
beginners get getting good best great nice top useful resource resources tutorial tutorials course courses
book books guide guides material materials link links paper papers lecture lectures video videos intro
introduction introductions explain explained explanation explanations understand understanding know knowing
need needs want wants anyone someone somebody recommend recommended recommendation recommendations suggest
suggestion suggestions tip tips advice help please thanks thank find look looking tell work works really
actually thing things stuff way ways mean means meaning definition define question questions idea ideas
hi hey pls plz any anything some something here there place places online free even simple simply basics
basic overview summary info information source sources right go going first
""".split())
DEFINE_INTENT = re.compile(r"^\W*(what(?:'s|s| is| are| was| does)\b|define\b|definition\b|explain\b|meaning of\b|"
                           r"who (?:is|are)\b)", re.I)
LEARN_INTENT = re.compile(
    r"\b(learn|learning|resources?|tutorials?|courses?|books?|guides?|start(ed)?|begin|beginner|study|read|"
    r"materials?|introduction|intro|get into|where can|recommend)\b", re.I)
WANTS = [
    ("comparison", re.compile(r"\b(difference between|differences between|vs\.?|versus|compared? (?:to|with)|"
                              r"compare|better than|worse than)\b|\bwhat'?s the difference\b", re.I)),
    ("money", re.compile(r"\b(how much (?:did|does|do|is|was|for|money)|price|prices|priced|cost|costs|paid|pay for|"
                         r"how much .* (?:pay|cost|buy|sell|spend)|valuation|dollars?)\b", re.I)),
    ("number", re.compile(r"\b(how many|how long|how big|how fast|how large|what (?:batch size|size|number|"
                          r"percentage|percent)|how much (?:time|memory|faster|slower))\b", re.I)),
    ("date", re.compile(r"\b(when (?:did|was|were|is|will)|what year|which year|what date|on what date)\b", re.I)),
    ("person", re.compile(r"(^\W*who\b|\bwho (?:wrote|made|built|runs|run|ran|created|debunked|founded|started|"
                          r"invented|coined|proposed)\b|\bauthors? of\b|\bwhose\b|\bwritten by whom\b)", re.I)),
]
RECOMMEND = re.compile(r"\b(should i (?:buy|get an?|pick|choose)\b(?! (?:to|into|started|going))|(?:best|good) (?:\w+ ){0,3}to buy|worth buying|"
                       r"still the best|best value|latest|newest|most recent|current version|up[- ]to[- ]date|"
                       r"state of the art|what to buy|which .* to buy)\b", re.I)
NOW = re.compile(r"\b(these days|nowadays|right now|now|currently|at the moment|today|this year|as of today)\b", re.I)
YEAR = re.compile(r"\b(20\d\d)\b")


@dataclass
class Question:
    text: str
    intent: str = "ask"
    wants: str = ""
    timely: str = ""
    year: int | None = None  # a year the question names ("in 2026")


def analyse(text: str, newest_year: int | None = None) -> Question:
    """Read ``text`` (see the module docstring). ``newest_year`` is the archive's newest year: a
    question naming a later year asks about a time the archive has not seen."""
    intent = "define" if DEFINE_INTENT.search(text) else ("learn" if LEARN_INTENT.search(text) else "ask")
    wants = next((name for name, rx in WANTS if rx.search(text)), "")
    years = [int(y) for y in YEAR.findall(text)]
    later = bool(years and newest_year and max(years) > newest_year)
    if RECOMMEND.search(text) or (later and re.search(r"\b(buy|best|should|which|what)\b", text, re.I)):
        timely = "recommend"
    elif NOW.search(text) or later:
        timely = "now"
    else:
        timely = ""
    return Question(text, intent, wants, timely, max(years) if years else None)


MONEY = re.compile(r"[$€£]\s?\d|\b\d[\d,.]*\s?(?:k|m|bn|million|billion|thousand|dollars|usd|euros?)\b", re.I)
NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
                    r"thirty|forty|fifty|hundred|thousand|million|billion|dozens?|hundreds|thousands)\b", re.I)
DATE = re.compile(r"\b(?:19|20)\d\d\b|\b(?:january|february|march|april|may|june|july|august|september|october|"
                  r"november|december)\b", re.I)
PROPER = re.compile(r"\b[A-Z][a-z]+(?:[- ][A-Z][a-z]+)+\b")


def supports(text: str, question: Question, authors: list[str] = ()) -> bool:
    """Whether a passage ``text`` holds the specific the question wants (a price, a number, a
    person not named in the question, a date; for a comparison, both sides are checked by the
    caller's word coverage)."""
    wants = question.wants
    if wants == "money":
        return bool(MONEY.search(text))
    if wants == "number":
        return bool(NUMBER.search(text))
    if wants == "date":
        return bool(DATE.search(text))
    if wants == "person":
        asked = set(re.findall(r"[a-z]+", question.text.lower()))
        names = [n for n in PROPER.findall(text) if not set(re.findall(r"[a-z]+", n.lower())) <= asked]
        return bool(names or [a for a in authors if a.lower() not in question.text.lower()])
    return True
