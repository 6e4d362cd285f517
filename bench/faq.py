"""Calibrate `aidlgraph ask` on data/faq_cases.yaml: thresholds from one half, figures from the other.

    python bench/faq.py [--library DIR] [--cases data/faq_cases.yaml] [--write] [-v]

Protocol: every case's candidates are scored once (``ask.gather``) on the shipped library (built
in a temporary directory unless --library is given). A grid search over the five numbers ask.py
reads (question_bonus, lexical_weight, name_bonus, min_score, min_gap) runs in memory on the
``calibrate`` split only, maximising

    objective = (answer accuracy + abstain F1) / 2

where answer accuracy is the share of answerable cases answered with a source whose title
matches the case's regex, and abstain F1 is the F1 of "abstained" against the cases marked
``abstain: true``. Robustness first: a point is rated by its worst objective when both
thresholds move by up to ROBUST; ties go to the smallest min_gap and the smallest bonuses
(parsimony), then the best objective at the point, then the widest margin (see ``calibrate``).
The figures printed for the ``report`` split never took part in choosing. ``--write`` stores
the chosen numbers in data/ask_thresholds.json, which ask.py reads.
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

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aidlgraph.query import ask  # noqa: E402

CASES = ROOT / "data" / "faq_cases.yaml"
OUT = ROOT / "data" / "ask_thresholds.json"
GRID = {
    "question_bonus": [0.0, 0.05, 0.1, 0.15, 0.2],
    "lexical_weight": [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5],
    "name_bonus": [0.0, 0.05, 0.1, 0.15, 0.2, 0.3],
}
MIN_SCORES = np.round(np.arange(0.20, 1.201, 0.01), 2)  # steps of STEP, like MIN_GAPS
STEP = 0.01
MIN_GAPS = np.round(np.arange(0.0, 0.301, STEP), 2)
ROBUST = 0.03  # how far both thresholds may move while the calibration objective must hold
OPEN = {"min_score": -1e9, "min_gap": -1e9}  # decide() without thresholds: who wins, by how much


@dataclass
class Case:
    q: str
    kind: str
    split: str
    abstain: bool
    expect: str | None
    evidence: ask.Evidence
    right: dict[str, bool]  # candidate key -> its answer cites a source matching `expect`
    sources: dict[str, list[str]]


def load_cases(path: Path) -> list[dict]:
    cases = yaml.safe_load(path.read_text())["cases"]
    seen: dict = {}
    for c in cases:  # the split rule of the file's header, checked so a hand edit cannot skew it
        group = (c["kind"], c.get("expect")) if c["kind"] == "question" else c["kind"]
        n = seen[group] = seen.get(group, -1) + 1
        want = "calibrate" if n % 2 == 0 else "report"
        if c.get("split") != want:
            raise SystemExit(f"{path}: case {c['q']!r} should be in split {want!r} by the file's rule")
        if bool(c.get("abstain")) == bool(c.get("expect")):
            raise SystemExit(f"{path}: case {c['q']!r} needs exactly one of expect/abstain")
    return cases


def prepare(lib, raw: list[dict]) -> list[Case]:
    out = []
    for c in raw:
        ev = ask.gather(lib, c["q"])
        right, sources = {}, {}
        for cand in ev.candidates:
            titles = [s["title"] for s in ask.sources_for(lib, cand, ev)] if cand.answerable else []
            sources[cand.key] = titles
            right[cand.key] = bool(c.get("expect")) and any(re.search(c["expect"], t, re.I) for t in titles)
        out.append(Case(c["q"], c["kind"], c["split"], bool(c.get("abstain")), c.get("expect"), ev, right, sources))
    return out


def outcomes(cases: list[Case], weights: dict) -> dict[str, np.ndarray]:
    """Per case: the winner's score, its gap to an unrelated rival, whether it can be cited and
    whether its sources are right, under these weights (thresholds applied later, in bulk)."""
    limits = {**weights, **OPEN}
    score, gap, citable, right = [], [], [], []
    for case in cases:
        d = ask.decide(case.evidence, limits)
        score.append(d.score)
        gap.append(d.gap)
        citable.append(d.best is not None and d.best.answerable)
        right.append(d.best is not None and case.right.get(d.best.key, False))
    return {"score": np.array(score), "gap": np.array(gap), "citable": np.array(citable), "right": np.array(right)}


def metrics(cases: list[Case], out: dict[str, np.ndarray], min_score: float, min_gap: float) -> dict:
    should_abstain = np.array([c.abstain for c in cases])
    answered = (out["score"] >= min_score - 1e-9) & (out["gap"] >= min_gap - 1e-9) & out["citable"]
    abstained = ~answered
    n_answerable = int((~should_abstain).sum())
    correct = answered & out["right"] & ~should_abstain
    tp = int((abstained & should_abstain).sum())
    precision = tp / int(abstained.sum()) if abstained.any() else 1.0
    recall = tp / int(should_abstain.sum()) if should_abstain.any() else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = int(correct.sum()) / n_answerable if n_answerable else 1.0
    return {"answer_accuracy": accuracy, "abstain_precision": precision, "abstain_recall": recall,
            "abstain_f1": f1, "objective": (accuracy + f1) / 2,
            "wrong_answers": int((answered & ~out["right"] & ~should_abstain).sum()),
            "false_answers": int((answered & should_abstain).sum()),
            "answered": answered, "correct": correct | (abstained & should_abstain)}


def calibrate(cases: list[Case]) -> tuple[dict, dict]:
    """The grid point whose objective holds best when both thresholds move by up to ROBUST
    (the worst objective within that square); among those, the most parsimonious: the smallest
    min_gap (the gap is meant for ambiguous questions, not to stand in for min_score), then the
    smallest bonuses; then the best objective at the point itself, then the min_score furthest
    from any worse grid point (max margin). A perfect score on a knife's edge, or one bought by
    a large min_gap for a single case, loses to a near-perfect one on a plateau."""
    best_key, best = None, None
    r = int(round(ROBUST / STEP))
    for values in itertools.product(*GRID.values()):
        weights = dict(zip(GRID, values))
        out = outcomes(cases, weights)
        table = objective_table(cases, out)
        robust = np.round(_worst_within(table, r), 6)
        exact = np.round(table, 6)
        margin = _margin(np.isclose(table, table.max()))
        for j in range(len(MIN_GAPS)):
            i = max(range(len(MIN_SCORES)), key=lambda i: (robust[i, j], exact[i, j], margin[i, j]))
            key = (robust[i, j], -MIN_GAPS[j], -round(sum(values), 6), exact[i, j], int(margin[i, j]))
            if best_key is None or key > best_key:
                best_key = key
                best = {**weights, "min_score": float(MIN_SCORES[i]), "min_gap": float(MIN_GAPS[j])}
    return best, {"robust": best_key[0], "objective": best_key[3], "margin": best_key[4] * STEP}


def _worst_within(table: np.ndarray, r: int) -> np.ndarray:
    """The minimum of ``table`` over the (2r+1)-square around each point; off the grid counts
    as 0, except below min_gap 0 (the same as 0)."""
    n, m = table.shape
    p = np.pad(table, r, constant_values=0.0)
    p[:, :r] = p[:, r:r + 1]
    out = np.full(table.shape, np.inf)
    for di, dj in itertools.product(range(2 * r + 1), repeat=2):
        out = np.minimum(out, p[di:di + n, dj:dj + m])
    return out


def _margin(good: np.ndarray) -> np.ndarray:
    """For each grid point, how many steps (chessboard distance) to the nearest point that is
    not ``good``. Beyond the grid counts as not good, except below min_gap 0 (the same as 0)."""
    n, m = good.shape
    depth = np.zeros(good.shape, dtype=int)
    current = good.copy()
    while current.any():
        depth += current
        p = np.pad(current, 1, constant_values=False)
        p[:, 0] = p[:, 1]
        shrunk = np.ones_like(current)
        for di, dj in itertools.product(range(3), repeat=2):
            shrunk &= p[di:di + n, dj:dj + m]
        current = shrunk
    return depth


def objective_table(cases: list[Case], out: dict[str, np.ndarray]) -> np.ndarray:
    """metrics()["objective"] for every (min_score, min_gap) of the grid at once."""
    should = np.array([c.abstain for c in cases])
    answered = ((out["score"][None, None, :] >= MIN_SCORES[:, None, None] - 1e-9)
                & (out["gap"][None, None, :] >= MIN_GAPS[None, :, None] - 1e-9) & out["citable"][None, None, :])
    abstained = ~answered
    tp = (abstained & should).sum(-1)
    n_abst = abstained.sum(-1)
    precision = np.where(n_abst > 0, tp / np.maximum(n_abst, 1), 1.0)
    recall = tp / max(int(should.sum()), 1)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    accuracy = (answered & out["right"] & ~should).sum(-1) / max(int((~should).sum()), 1)
    return (accuracy + f1) / 2


def show(name: str, cases: list[Case], limits: dict) -> dict:
    out = outcomes(cases, {k: limits[k] for k in GRID})
    m = metrics(cases, out, limits["min_score"], limits["min_gap"])
    n_ans = sum(not c.abstain for c in cases)
    n_abs = len(cases) - n_ans
    print(f"{name}: {len(cases)} cases ({n_ans} answerable, {n_abs} must abstain)")
    print(f"  answer accuracy    {m['answer_accuracy']:.3f}  (answered with a right source; "
          f"{m['wrong_answers']} answered with wrong sources)")
    print(f"  abstain precision  {m['abstain_precision']:.3f}")
    print(f"  abstain recall     {m['abstain_recall']:.3f}  ({m['false_answers']} off-topic/near-miss answered)")
    print(f"  abstain F1         {m['abstain_f1']:.3f}   objective {m['objective']:.3f}")
    kinds = sorted({c.kind for c in cases})
    print("  by kind: " + ", ".join(
        f"{k} {sum(m['correct'][i] for i, c in enumerate(cases) if c.kind == k)}/{sum(c.kind == k for c in cases)}"
        for k in kinds))
    return {**m, "out": out}


def failures(cases: list[Case], limits: dict, m: dict) -> None:
    for i, case in enumerate(cases):
        if m["correct"][i]:
            continue
        d = ask.decide(case.evidence, limits)
        what = d.best.key if d.best else "-"
        if m["answered"][i]:
            why = "answered, should abstain" if case.abstain else f"wrong sources {case.sources.get(d.best.key, [])[:3]}"
        else:
            why = f"abstained ({d.why or 'below threshold'})"
        print(f"  FAIL [{case.kind}] {case.q[:70]!r}: {why}; best {what} score {d.score:.3f} gap {d.gap:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", help="an existing library of the shipped corpus (default: build one in a temp dir)")
    ap.add_argument("--cases", default=str(CASES))
    ap.add_argument("--write", action="store_true", help=f"store the chosen thresholds in {OUT.relative_to(ROOT)}")
    ap.add_argument("-v", action="store_true", help="also list the calibration split's failures")
    opts = ap.parse_args()
    from aidlgraph.build.bootstrap import create
    from aidlgraph.library import Library

    raw = load_cases(Path(opts.cases))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path = Path(opts.library) if opts.library else create(Path(tmp) / "lib", empty=False)
        lib = Library.open(path)
        built = time.perf_counter() - started
        started = time.perf_counter()
        cases = prepare(lib, raw)
        scored = time.perf_counter() - started
        lib.close()
    cal = [c for c in cases if c.split == "calibrate"]
    rep = [c for c in cases if c.split == "report"]
    print(f"library ready in {built:.1f}s; {len(cases)} cases scored once in {scored:.1f}s")
    started = time.perf_counter()
    chosen, how = calibrate(cal)
    n_points = np.prod([len(v) for v in GRID.values()]) * len(MIN_SCORES) * len(MIN_GAPS)
    print(f"grid: {n_points} points swept on the calibrate split in {time.perf_counter() - started:.1f}s")
    print("chosen thresholds: " + ", ".join(f"{k}={v:g}" for k, v in chosen.items())
          + f"\n  (calibrate objective {how['objective']:.3f}; {how['robust']:.3f} at worst with both thresholds moved up to "
            f"{ROBUST:g}; {how['margin']:.2f} to the nearest worse grid point)")
    print()
    m_cal = show("calibrate split (used to choose)", cal, chosen)
    if opts.v:
        failures(cal, chosen, m_cal)
    print()
    m_rep = show("REPORT split (held out)", rep, chosen)
    failures(rep, chosen, m_rep)
    current = ask.thresholds()
    if any(abs(current[k] - chosen[k]) > 1e-9 for k in chosen):
        print()
        show("report split with the thresholds now in ask_thresholds.json " + json.dumps(current), rep, current)
    if opts.write:
        record = {**chosen, "calibrated_on": f"{Path(opts.cases).name}, split=calibrate ({len(cal)} cases)",
                  "objective": "(answer accuracy + abstain F1) / 2", "calibrate_objective": round(how["objective"], 4),
                  "report": {k: round(m_rep[k], 4) for k in ("answer_accuracy", "abstain_precision", "abstain_recall")}}
        OUT.write_text(json.dumps(record, indent=2) + "\n")
        print(f"\nwrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
