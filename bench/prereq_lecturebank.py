"""How well `graph suggest`'s scorer predicts held-out prerequisite edges: LectureBank 2.0.

For each of the five published splits, the scorer of ``aidlgraph.suggest`` is trained on that
fold's training edges only (positives and negatives; each positive is described against the
graph of the other training edges, as a test pair is against the whole training graph), then
predicts the fold's 155 positive and 155 negative test pairs. Beside it: the reference with no
text at all, following the training edges transitively (predict a -> b when b is reachable).

    .venv/bin/python bench/prereq_lecturebank.py [--data DIR] [--ablations] [--lectures]

Features: the 322 topic names embedded with the library's model (all-MiniLM-L6-v2), the
training graph (reachability, hops, degrees, ancestors/descendants, neighbours' similarity)
and, with ``--lectures``, series order from course lecture titles (LectureBank1and2.tsv: a
topic named in an earlier lecture of a course than another). LectureBank has no lecture text
mapped to these 322 topics (lecturebank20.tsv maps lectures to its older taxonomy), so RefD
has nothing to read here.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aidlgraph.query import suggest  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "lecturebank" / "LB-Paper"
FOLDS = 5


def read_topics(path: Path) -> list[str]:
    """Topic names in id order (the file is ``id|name``, 1-based)."""
    names = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            tid, name = line.split("|", 1)
            names[int(tid)] = name.strip()
    return [names[i] for i in range(1, len(names) + 1)]


def read_pairs(path: Path) -> np.ndarray:
    """``a,b`` lines with 0-based ids (topic file id - 1): kept 0-based, as array indices."""
    rows = [[int(x) for x in line.split(",")[:2]] for line in path.read_text().splitlines() if line.strip()]
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def lecture_series(path: Path, names: list[str]) -> list[dict[int, int]]:
    """Per course (author, venue, year), each topic's first lecture whose title names it."""
    courses: dict[tuple, list[tuple[int, str]]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        cols = line.split("\t")
        if n == 0 or len(cols) < 7:
            continue
        courses.setdefault((cols[4], cols[6], cols[3]), []).append((int(cols[0]), cols[1]))
    series = []
    for lectures in courses.values():
        lectures.sort()
        first: dict[int, int] = {}
        for pos, hit in enumerate(suggest.find_mentions([t for _, t in lectures], [[n] for n in names])):
            for t in hit:
                first.setdefault(t, pos)
        if len(first) > 1:
            series.append(first)
    return series


def metrics(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    tp = float(np.sum(truth & predicted))
    precision = tp / max(predicted.sum(), 1)
    recall = tp / max(truth.sum(), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(np.mean(truth == predicted)), f1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="LectureBank's LB-Paper folder")
    parser.add_argument("--ablations", action="store_true", help="also score without embeddings / graph")
    parser.add_argument("--lectures", action="store_true", help="add series order from lecture titles")
    parser.add_argument("--inner-folds", type=int, default=10)
    args = parser.parse_args(argv)
    data_dir = args.data / "LectureBank2" / "data"
    if not (data_dir / "322topics_final.tsv").exists():
        print(f"LectureBank 2.0 is not at {data_dir}; pass --data LB-Paper folder", file=sys.stderr)
        return 2
    started = time.perf_counter()
    names = read_topics(data_dir / "322topics_final.tsv")
    from aidlgraph import config, embed

    vectors = embed.load(config.DEFAULT_MODEL).encode(names)
    base = suggest.TopicData([str(i + 1) for i in range(len(names))], names, vectors @ vectors.T)
    if args.lectures:
        base.series = suggest.series_order(lecture_series(args.data / "LectureBank1and2.tsv", names), len(names))

    models = {"suggest": base}
    if args.ablations:
        models["graph only"] = suggest.TopicData(base.ids, names, np.zeros_like(base.similarity), series=base.series)
    results: dict[str, list[tuple[float, float]]] = {"closure": [], **{m: [] for m in models}}
    for fold in range(FOLDS):
        split = data_dir / "split"
        train_pos = read_pairs(split / f"train_edges_positive_{fold}.txt")
        train_neg = read_pairs(split / f"train_edges_negative_{fold}.txt")
        test = np.vstack([read_pairs(split / f"test_edges_positive_{fold}.txt"),
                          read_pairs(split / f"test_edges_negative_{fold}.txt")])
        truth = np.r_[np.ones(len(test) // 2, dtype=bool), np.zeros(len(test) - len(test) // 2, dtype=bool)]
        reach = suggest.reachability(suggest.adjacency(len(names), train_pos))
        results["closure"].append(metrics(truth, reach[test[:, 0], test[:, 1]]))
        for label, data in models.items():
            scorer = suggest.train(data, train_pos, train_neg, folds=args.inner_folds, seed=fold)
            prob = scorer.predict(suggest.pair_features(data, train_pos, test[:, 0], test[:, 1]))
            results[label].append(metrics(truth, prob >= 0.5))

    labels = list(results)
    head = "fold  " + "  ".join(f"{l:>16}" for l in labels)
    print(f"LectureBank 2.0 prerequisite pairs (155 positive + 155 negative per test fold); acc / F1")
    print(head)
    print("-" * len(head))
    for fold in range(FOLDS):
        print(f"{fold:<4}  " + "  ".join(f"{results[l][fold][0]:>7.3f} / {results[l][fold][1]:.3f}" for l in labels))
    print("-" * len(head))
    print("mean  " + "  ".join(f"{np.mean([r[0] for r in results[l]]):>7.3f} / {np.mean([r[1] for r in results[l]]):.3f}"
                           for l in labels))
    print(f"({time.perf_counter() - started:.0f}s; reference with no text: closure 0.76 / 0.72)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
