"""Calibrate `aidlgraph ask` on data/faq_cases.yaml: thresholds from one half, figures from the other.

    python bench/faq.py [--library DIR] [--write] [--report] [-v]

The case file has two sections: `cases` (which source answers; from the first wave) and
`answers` (the answer text itself must say what `mentions` requires; paraphrase groups,
unanswerable specifics, time-sensitive and near-domain questions). Each has a calibrate/report
split fixed in the file's header.

Protocol. Every case's evidence is gathered once (``ask.evidence_for``) on the shipped library
(built in a temporary directory unless --library is given). A grid search over the numbers ask
reads runs in memory on the ``calibrate`` halves only, maximising

    objective = (answer accuracy + abstain F1) / 2

where answer accuracy is the share of answerable cases answered with a source whose title
matches `expect` and, for `answers` cases, an answer text matching every `mentions` regex; and
abstain F1 is the F1 of "abstained" against the cases that must abstain. A point is rated by its
worst objective when min_score and min_support move by one grid step (robustness first), then
by its own objective. The ``report`` halves are printed only with ``--report``: run that once, at
the end, and quote it. ``--write`` stores the chosen numbers in data/ask_thresholds.json.

Also printed: paraphrase agreement (the share of paraphrase groups whose cases all get the same
outcome: the same first source, or all abstain).
"""
from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aidlgraph.query import ask  # noqa: E402

CASES = ROOT / "data" / "faq_cases.yaml"
OUT = ROOT / "data" / "ask_thresholds.json"
WEIGHTS = {
    "lexical_weight": [0.0, 0.1, 0.2, 0.3, 0.5],
    "question_bonus": [0.0, 0.05, 0.1],
    "name_bonus": [0.0, 0.1, 0.2, 0.3],
    "lead_bonus": [0.0, 0.05, 0.1],
}
MIN_SCORES = [round(0.30 + 0.02 * i, 2) for i in range(36)]
MIN_SUPPORTS = [round(0.1 * i, 1) for i in range(9)]
MAX_UNSEEN = [0.2, 0.35, 0.5, 0.65, 1.0]


@dataclass
class Case:
    q: str
    section: str
    kind: str
    split: str
    abstain: bool
    expect: str | None
    mentions: list[str]
    group: str
    evidence: object = None
    newest: int | None = None


def load(path: Path) -> list[Case]:
    data = yaml.safe_load(path.read_text())
    out = []
    for section in ("cases", "answers"):
        for n, c in enumerate(data.get(section) or []):
            out.append(Case(c["q"], section, c["kind"], c["split"], bool(c.get("abstain")), c.get("expect"),
                            list(c.get("mentions") or []), str(c.get("group") or f"{section}-{n}")))
    return out


def outcome(case: Case, limits: dict, drafted=None) -> tuple[bool, bool, dict | None]:
    """(answered, right, the result) of one case under ``limits`` (``drafted``: its draft under
    these weights, when already made)."""
    drafted = drafted if drafted is not None else ask.draft(case.evidence, limits, case.newest)
    d = ask.verdict(drafted, limits)
    if not d.answered:
        return False, False, None
    answer, sources = ask.compose(d.quotes, case.evidence.question)
    titles = [s["title"] for s in sources]
    right = (not case.abstain and bool(case.expect) and any(re.search(case.expect, t, re.I) for t in titles)
             and all(re.search(m, answer, re.I) for m in case.mentions))
    return True, right, {"answer": answer, "sources": sources}


def metrics(cases: list[Case], limits: dict, drafts: list | None = None) -> dict:
    answered, right, results = [], [], []
    for n, c in enumerate(cases):
        a, r, res = outcome(c, limits, drafts[n] if drafts else None)
        answered.append(a)
        right.append(r)
        results.append(res)
    must = [c.abstain for c in cases]
    n_answerable = sum(1 for m in must if not m)
    correct = sum(1 for r, m in zip(right, must) if r and not m)
    abstained = [not a for a in answered]
    tp = sum(1 for a, m in zip(abstained, must) if a and m)
    precision = tp / sum(abstained) if any(abstained) else 1.0
    recall = tp / sum(must) if any(must) else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = correct / n_answerable if n_answerable else 1.0
    groups: dict[str, set] = {}
    for c, a, res in zip(cases, answered, results):
        if c.group.startswith(("cases-", "answers-")):
            continue
        groups.setdefault(c.group, set()).add(res["sources"][0]["id"] if a else "abstain")
    agreement = sum(1 for g in groups.values() if len(g) == 1) / len(groups) if groups else 1.0
    return {"answer_accuracy": accuracy, "abstain_precision": precision, "abstain_recall": recall,
            "abstain_f1": f1, "objective": (accuracy + f1) / 2, "paraphrase_agreement": agreement,
            "groups": len(groups), "answered": answered, "right": right, "results": results}


def calibrate(cases: list[Case]) -> dict:
    best = None
    for values in itertools.product(*WEIGHTS.values()):
        weights = dict(zip(WEIGHTS, values))
        drafts = [ask.draft(c.evidence, {**weights, "min_score": 0.0, "min_support": 0.0}, c.newest) for c in cases]
        for u in MAX_UNSEEN:
            table = {}
            for s, t in itertools.product(MIN_SCORES, MIN_SUPPORTS):
                limits = {**weights, "min_score": s, "min_support": t, "max_unseen": u}
                table[(s, t)] = metrics(cases, limits, drafts)["objective"]
            for (s, t), objective in table.items():
                i, j = MIN_SCORES.index(s), MIN_SUPPORTS.index(t)
                worst = min(table[(MIN_SCORES[a], MIN_SUPPORTS[b])]
                            for a in range(max(0, i - 1), min(len(MIN_SCORES), i + 2))
                            for b in range(max(0, j - 1), min(len(MIN_SUPPORTS), j + 2)))
                key = (round(worst, 4), round(objective, 4), u, -sum(values))
                if best is None or key > best[0]:
                    best = (key, {**weights, "min_score": s, "min_support": t, "max_unseen": u})
    return best[1]


def show(name: str, cases: list[Case], limits: dict, verbose: bool) -> list[str]:
    m = metrics(cases, limits)
    n_must = sum(1 for c in cases if c.abstain)
    lines = [f"{name}: {len(cases)} cases ({len(cases) - n_must} answerable, {n_must} must abstain)",
             f"  answer accuracy      {m['answer_accuracy']:.3f}  (answered, a right source and, for `answers`, "
             "the answer text says what it must)",
             f"  abstain precision    {m['abstain_precision']:.3f}",
             f"  abstain recall       {m['abstain_recall']:.3f}",
             f"  paraphrase agreement {m['paraphrase_agreement']:.3f}  ({m['groups']} groups)"]
    kinds = sorted({c.kind for c in cases})
    lines.append("  by kind: " + ", ".join(
        f"{k} {sum(1 for c, a, r in zip(cases, m['answered'], m['right']) if c.kind == k and (r if not c.abstain else not a))}"
        f"/{sum(1 for c in cases if c.kind == k)}" for k in kinds))
    if verbose:
        for c, a, r, res in zip(cases, m["answered"], m["right"], m["results"]):
            ok = r if not c.abstain else not a
            if not ok:
                got = (f"answered {res['answer'][:140]!r} from {[s['title'][:40] for s in res['sources']]}" if a
                       else f"abstained: {ask.decide(c.evidence, limits, c.newest).why[:120]}")
                lines.append(f"  FAIL [{c.section}/{c.kind}] {c.q!r}: {got}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", help="an existing library (default: build the shipped one in a temporary directory)")
    ap.add_argument("--cases", default=str(CASES))
    ap.add_argument("--write", action="store_true", help=f"store the chosen numbers in {OUT.relative_to(ROOT)}")
    ap.add_argument("--report", action="store_true", help="also print the held-out report halves (once, at the end)")
    ap.add_argument("--current", action="store_true", help="score with the numbers in use instead of calibrating")
    ap.add_argument("-v", action="store_true", help="list the failures")
    opts = ap.parse_args()
    from aidlgraph.build.bootstrap import create
    from aidlgraph.library import Library

    started = time.perf_counter()
    cases = load(Path(opts.cases))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(opts.library) if opts.library else create(Path(tmp) / "lib", empty=False)
        with Library.open(path) as lib:
            for c in cases:
                c.evidence, c.newest = ask.evidence_for(lib, c.q)
    gathered = time.perf_counter() - started
    calib = [c for c in cases if c.split == "calibrate"]
    held = [c for c in cases if c.split == "report"]
    limits = ask.thresholds() if opts.current else calibrate(calib)
    print(f"{len(cases)} cases gathered in {gathered:.1f}s; " + ("numbers in use: " if opts.current else "chosen on the calibrate halves: ")
          + ", ".join(f"{k} {v:g}" for k, v in limits.items()))
    for section in ("cases", "answers"):
        print("\n".join(show(f"[{section}] calibrate split (used to choose)", [c for c in calib if c.section == section],
                             limits, opts.v)))
    if opts.report:
        for section in ("cases", "answers"):
            note = " -- looked at during the first wave's development" if section == "cases" else ""
            print("\n".join(show(f"[{section}] REPORT split (held out){note}", [c for c in held if c.section == section],
                                 limits, opts.v)))
    if opts.write and not opts.current:
        data = {**limits, "calibrated_on": f"{Path(opts.cases).name}, split=calibrate ({len(calib)} cases)",
                "objective": "(answer accuracy + abstain F1) / 2", "written": time.strftime("%Y-%m-%d")}
        OUT.write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
