"""What a source file may hold: the limits every loader enforces before it builds anything big.

A hostile or broken file (a CSV whose header has a million columns, a Markdown file of a million
bullets, a 16 MB spreadsheet cell) must fail with one line naming the limit, not exhaust memory.
Each limit is checked on the cheapest view of the input that can decide it (a count over the text,
one row at a time), before the loader allocates per-item structures; the error names the limit
and, where there is one, the line.

=======================  =============  ==================================================
limit                    value          checked
=======================  =============  ==================================================
``MAX_BYTES``            200 MiB        the file's size, before it is read
``MAX_LINE``             100,000 chars  a line of Markdown or text (read line by line)
``MAX_COLUMNS``          1,000          columns of a CSV/TSV row (the header first)
``MAX_CELLS``            5,000,000      cells of a CSV/TSV file, counted row by row
``MAX_FIELD``            200,000 chars  one CSV/TSV cell, or one YAML/JSON string
``MAX_ITEMS``            100,000        items (or rows, bullets, feed entries) per file
``MAX_TOPICS``           100            topics one item names
``MAX_DEPTH``            64             nesting of YAML/JSON values
``MAX_EXTRA_FIELDS``     50             fields kept in an item's ``extra`` (unknown columns)
``MAX_EXTRA_CHARS``      2,000 chars    one ``extra`` value, cut with "…" beyond it
=======================  =============  ==================================================

TutorialBank (20,244 rows of 9 columns) and the shipped corpus sit far inside all of them.
``extra`` is kept small on purpose: it is shown whole by ``aidlgraph show`` and ``/items/ID``.
"""
from __future__ import annotations

import json
from typing import Any

MAX_BYTES = 200 * 1024 * 1024
MAX_LINE = 100_000
MAX_COLUMNS = 1_000
MAX_CELLS = 5_000_000
MAX_FIELD = 200_000
MAX_ITEMS = 100_000
MAX_TOPICS = 100
MAX_DEPTH = 64
MAX_EXTRA_FIELDS = 50
MAX_EXTRA_CHARS = 2_000


def cap_extra(extra: dict) -> tuple[dict, bool]:
    """``extra`` within MAX_EXTRA_FIELDS fields of MAX_EXTRA_CHARS characters each (a longer string
    is cut and ends with "…"; another long value is kept as its cut JSON text); True if anything
    was cut or dropped.

    >>> cap_extra({"venue": "ACL", "notes": "x" * 3000})[0]["notes"][-3:], cap_extra({"venue": "ACL"})
    ('xx…', ({'venue': 'ACL'}, False))
    """
    out: dict[str, Any] = {}
    cut = len(extra) > MAX_EXTRA_FIELDS
    for key, value in list(extra.items())[:MAX_EXTRA_FIELDS]:
        key = str(key)[:100]
        if not isinstance(value, str) and len(json.dumps(value, ensure_ascii=False, default=str)) > MAX_EXTRA_CHARS:
            value = json.dumps(value, ensure_ascii=False, default=str)
        if isinstance(value, str) and len(value) > MAX_EXTRA_CHARS:
            value, cut = value[:MAX_EXTRA_CHARS - 1] + "…", True
        out[key] = value
    return out, cut
