"""Calibrate topic resolution on data/resolution_cases.yaml: the model from one half, figures from the other.

    python bench/resolution.py [--library DIR] [--write] [--report] [-v]

Protocol. Each case's candidate topics and their signals are computed once on the shipped
library (built in a temporary directory unless --library is given). On the ``calibrate`` split
only: a logistic model is fitted on the candidates' signals (a candidate is positive when it is
one of the case's right topics), then the three decision numbers are chosen by grid search:
``accept`` and ``margin`` to maximise accuracy (a case with a topic is right when its right topic
is accepted; a case with none is right when nothing is accepted), ``ask`` to make refusals most
useful (did-you-mean holding the right topic for cases with one; a plain "no such topic" for
cases with none). Names typed exactly never reach the model (resolved by name at once), and
count as they come out.

``--write`` stores the model and the numbers in data/resolve_model.json. The ``report`` split is
printed only with ``--report``: run it once, at the end, and quote it.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aidlgraph.learn import fit_choice  # noqa: E402
from aidlgraph.query import resolve  # noqa: E402

CASES = ROOT / "data" / "resolution_cases.yaml"
OUT = ROOT / "data" / "resolve_model.json"
ACCEPTS = np.round(np.arange(0.30, 0.951, 0.025), 3)
MARGINS = np.round(np.arange(0.0, 0.401, 0.025), 3)
ASKS = np.round(np.arange(0.05, 0.901, 0.025), 3)


@dataclass
class Case:
    q: str
    gold: set[str]
    kind: str
    split: str
    exact: str | None = None  # resolved by name, no model
    cands: list = field(default_factory=list)


def load_cases(path: Path) -> list[Case]:
    data = yaml.safe_load(path.read_text())
    out = []
    for c in data["cases"]:
        topic = c.get("topic")
        gold = set(topic) if isinstance(topic, list) else ({topic} if topic else set())
        out.append(Case(c["q"], gold, c["kind"], c["split"]))
    return out


def gather(lib, cases: list[Case]) -> None:
    topics = lib.store.topics()
    for case in cases:
        exact = resolve.exact_topic(topics, case.q)
        if exact is not None:
            case.exact = exact[0]
        else:
            case.cands = resolve.signals(lib, case.q, k=2 * resolve.CANDIDATES)


def groups(cases: list[Case]) -> tuple[list[np.ndarray], list[set[int]]]:
    """Each case's candidates as a group, with the right ones (none: the case has no topic, or
    its topic is not among the candidates, where refusing is the best answer)."""
    rows, right = [], []
    for case in cases:
        if case.exact:
            continue
        rows.append(np.array([[c.features[f] for f in resolve.FEATURES] for c in case.cands]).reshape(-1, len(resolve.FEATURES)))
        right.append({i for i, c in enumerate(case.cands) if c.topic_id in case.gold})
    return rows, right


def score(cases: list[Case], model) -> None:
    for case in cases:
        case.cands = resolve.rank(case.cands, model)


def outcome(case: Case, limits: dict) -> tuple[str, str | None]:
    """(verdict, accepted topic): verdict is accept, ask or none."""
    if case.exact:
        return "accept", case.exact
    cands = case.cands[:resolve.CANDIDATES]
    verdict = resolve.decide(cands, limits)
    return verdict, (cands[0].topic_id if verdict == "accept" else None)


def accuracy(cases: list[Case], limits: dict) -> float:
    right = 0
    for case in cases:
        verdict, topic = outcome(case, limits)
        right += (topic in case.gold) if case.gold else (verdict != "accept")
    return right / len(cases) if cases else 0.0


def usefulness(cases: list[Case], limits: dict) -> float:
    """Of the cases not accepted: did-you-mean with the right topic, or "none" when there is none."""
    good = total = 0
    for case in cases:
        verdict, _ = outcome(case, limits)
        if verdict == "accept":
            continue
        total += 1
        if case.gold:
            good += verdict == "ask" and any(c.topic_id in case.gold for c in case.cands[:3])
        else:
            good += verdict == "none"
    return good / total if total else 1.0


def calibrate(cases: list[Case]) -> dict:
    best = None
    for accept in ACCEPTS:
        for margin in MARGINS:
            limits = {"accept": float(accept), "margin": float(margin), "ask": 0.0}
            acc = accuracy(cases, limits)
            # robust: the worst accuracy with both numbers moved by one grid step
            worst = min(accuracy(cases, {"accept": float(a), "margin": float(m), "ask": 0.0})
                        for a in (accept - 0.025, accept, accept + 0.025) for m in (max(0.0, margin - 0.025), margin, margin + 0.025))
            key = (round(worst, 4), round(acc, 4), -margin, accept)
            if best is None or key > best[0]:
                best = (key, limits)
    limits = best[1]
    ask_best = None
    for ask in ASKS:
        if ask > limits["accept"]:
            break
        trial = {**limits, "ask": float(ask)}
        key = (round(usefulness(cases, trial), 4), ask)
        if ask_best is None or key > ask_best[0]:
            ask_best = (key, trial)
    return ask_best[1]


def report(name: str, cases: list[Case], limits: dict, verbose: bool) -> list[str]:
    lines = [f"{name}: {len(cases)} cases ({sum(1 for c in cases if c.gold)} with a topic, "
             f"{sum(1 for c in cases if not c.gold)} the library has no topic for)"]
    with_topic = [c for c in cases if c.gold]
    without = [c for c in cases if not c.gold]
    resolved_right = sum(1 for c in with_topic if outcome(c, limits)[1] in c.gold)
    resolved_wrong = sum(1 for c in with_topic if outcome(c, limits)[0] == "accept" and outcome(c, limits)[1] not in c.gold)
    asked = sum(1 for c in with_topic if outcome(c, limits)[0] == "ask")
    asked_right = sum(1 for c in with_topic if outcome(c, limits)[0] == "ask"
                      and any(x.topic_id in c.gold for x in c.cands[:3]))
    refused = sum(1 for c in without if outcome(c, limits)[0] != "accept")
    lines.append(f"  accuracy                  {accuracy(cases, limits):.3f}")
    lines.append(f"  with a topic: resolved right {resolved_right}/{len(with_topic)} ({resolved_right / max(len(with_topic), 1):.3f}), "
                 f"wrong {resolved_wrong}, did-you-mean {asked} (right topic offered in {asked_right})")
    lines.append(f"  out of library refused    {refused}/{len(without)} ({refused / max(len(without), 1):.3f})")
    kinds = sorted({c.kind for c in cases})
    lines.append("  by kind: " + ", ".join(
        f"{k} {sum(1 for c in cases if c.kind == k and ((outcome(c, limits)[1] in c.gold) if c.gold else outcome(c, limits)[0] != 'accept'))}"
        f"/{sum(1 for c in cases if c.kind == k)}" for k in kinds))
    if verbose:
        for c in cases:
            verdict, topic = outcome(c, limits)
            ok = (topic in c.gold) if c.gold else verdict != "accept"
            if not ok:
                top = ", ".join(f"{x.topic_id} {x.probability:.2f}" for x in c.cands[:3])
                lines.append(f"  FAIL [{c.kind}] {c.q!r}: {verdict} {topic}; want {sorted(c.gold) or 'none'}; top: {top}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", help="an existing library (default: build the shipped one in a temporary directory)")
    ap.add_argument("--cases", default=str(CASES))
    ap.add_argument("--write", action="store_true", help=f"store the model and numbers in {OUT.relative_to(ROOT)}")
    ap.add_argument("--report", action="store_true", help="also print the held-out report split (once, at the end)")
    ap.add_argument("-v", action="store_true", help="list the failures")
    ap.add_argument("--l2", type=float, default=1.0, help="ridge penalty of the choice model")
    opts = ap.parse_args()
    from aidlgraph.build.bootstrap import create
    from aidlgraph.library import Library

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(opts.library) if opts.library else create(Path(tmp) / "lib", empty=False)
        with Library.open(path) as lib:
            cases = load_cases(Path(opts.cases))
            gather(lib, cases)
    calib = [c for c in cases if c.split == "calibrate"]
    held = [c for c in cases if c.split == "report"]
    rows, right = groups(calib)
    model = fit_choice(rows, right, l2=opts.l2)
    score(cases, model)
    limits = calibrate(calib)
    print(f"{len(cases)} cases, signals computed in {time.perf_counter() - started:.1f}s; model fitted on "
          f"{len(rows)} calibrate cases ({sum(1 for r in right if r)} with the right topic among the candidates)")
    print("weights: " + ", ".join(f"{f} {c:+.2f}" for f, c in zip(resolve.FEATURES, model.coef)) + f"; none {model.none:+.2f}")
    print(f"chosen: accept {limits['accept']:.3f}, margin {limits['margin']:.3f}, ask {limits['ask']:.3f}")
    print("\n".join(report("calibrate split (used to choose)", calib, limits, opts.v)))
    if opts.report:
        print("\n".join(report("REPORT split (held out)", held, limits, opts.v)))
    if opts.write:
        data = {**model.to_json(list(resolve.FEATURES)), **limits,
                "calibrated_on": f"{Path(opts.cases).name}, split=calibrate ({len(calib)} cases)",
                "written": time.strftime("%Y-%m-%d")}
        OUT.write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
