"""Suggesting the prerequisite edges a graph lacks, and recording a curator's decisions.

The scoring is plain functions over topic-indexed numpy arrays and never reads the library, so
the LectureBank benchmark (``bench/prereq_lecturebank.py``) measures exactly what
``aidlgraph graph suggest`` runs. The signals, for a candidate edge ``a -> b``:

- **similarity**: cosine of the two topics' embeddings (related topics are candidates at all);
- **graph**: whether ``a`` already reaches ``b`` (or ``b`` reaches ``a``), how many hops, the
  in/out degrees and ancestor/descendant counts (a topic many others build on is basic), and
  how much ``a`` resembles what ``b`` already needs (and ``b`` what already builds on ``a``);
- **text** (a library's items): RefD, the reference distance (how much the items of ``b``
  mention ``a`` against how much the items of ``a`` mention ``b``), the share of ``b``'s items
  that mention ``a``, and generality (a topic mentioned by many others is more basic);
- **series order**: ``a``'s items come before ``b``'s in a series.

A logistic model weighs them. With enough edges in the graph it is trained on the graph's own
edges (held out fold by fold, so that what it learns is how a *missing* edge looks); a small
graph falls back to fixed weights (``DEFAULT_WEIGHTS``).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..learn import Scorer, fit_logistic


if TYPE_CHECKING:
    from ..library import Library

FEATURES = (
    "similarity", "reaches", "reached_from", "closeness",
    "out_degree_src", "in_degree_src", "out_degree_dst", "in_degree_dst",
    "like_prereqs_of_dst", "like_successors_of_src",
    "descendants_src", "ancestors_src", "descendants_dst", "ancestors_dst",
    "refd", "mentions", "generality", "series_order",
)
MAX_HOPS = 8
MIN_TRAIN_EDGES = 30   # below this a graph is too small to learn from: use DEFAULT_WEIGHTS
MAX_NEGATIVES = 20     # sampled non-edges per known edge when a library trains on itself
MIN_NAME = 3           # names shorter than this are not counted as mentions ("c", "ai")
MAX_CANDIDATES = 250_000  # beyond this, only the most similar pairs are scored

# Fixed weights for graphs too small to train on, on the raw features less a typical value
# (DEFAULT_CENTRE: what an unrelated pair shows), so that "why" lists only what stands out.
# A pair needs similarity *and* a direction signal to clear 0.5: similarity alone (0.6) gives
# about 0.3, with half its items mentioning the other topic about 0.8.
DEFAULT_WEIGHTS = {
    "bias": -2.0, "similarity": 4.0, "refd": 3.0, "mentions": 2.0, "generality": 1.0,
    "series_order": 2.5, "like_prereqs_of_dst": 1.5, "like_successors_of_src": 1.5,
    "out_degree_src": 0.5, "in_degree_dst": 0.3,
}
DEFAULT_CENTRE = {"similarity": 0.3}

WHY = {
    "similarity": "similar topics ({:.2f})",
    "refd": "{dst}'s items mention {src} more than the reverse (RefD {:+.2f})",
    "mentions": "{:.0%} of {dst}'s items mention {src}",
    "generality": "{src} is mentioned by more topics (generality {:+.2f})",
    "series_order": "{src} comes earlier in a series",
    "like_prereqs_of_dst": "{src} resembles {dst}'s prerequisites ({:.2f})",
    "like_successors_of_src": "{dst} resembles what builds on {src} ({:.2f})",
    "out_degree_src": "{src} is a foundation of other topics",
    "descendants_src": "{src} is a foundation of other topics",
    "in_degree_dst": "{dst} builds on several topics",
    "ancestors_dst": "{dst} builds on several topics",
}


@dataclass
class TopicData:
    """What the scorer knows about ``n`` topics, as arrays indexed like ``ids``.

    ``similarity`` is required; ``mentions`` and ``series`` are zero when there is no text.
    """

    ids: list[str]
    names: list[str]
    similarity: np.ndarray
    mentions: np.ndarray | None = None
    series: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.ids)


@dataclass
class Suggestion:
    src: str
    dst: str
    src_name: str
    dst_name: str
    confidence: float
    why: str
    evidence: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


# -- graph features ---------------------------------------------------------------------------
def adjacency(n: int, edges: np.ndarray) -> np.ndarray:
    """Boolean ``n x n`` adjacency from an ``(m, 2)`` array of ``(src, dst)`` indices.

    Examples
    --------
    >>> adjacency(3, np.array([[0, 1], [1, 2]])).astype(int).tolist()
    [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    """
    adj = np.zeros((n, n), dtype=bool)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    adj[edges[:, 0], edges[:, 1]] = True
    return adj


def hops(adj: np.ndarray, max_hops: int = MAX_HOPS) -> np.ndarray:
    """Shortest path lengths (1..max_hops) by breadth-first matrix products; 0 = not within reach.

    Examples
    --------
    >>> hops(adjacency(3, np.array([[0, 1], [1, 2]]))).tolist()
    [[0, 1, 2], [0, 0, 1], [0, 0, 0]]
    """
    step = adj.astype(np.float32)
    out = np.zeros(adj.shape, dtype=np.int32)
    seen = adj.copy()
    out[adj] = 1
    frontier = adj
    for h in range(2, max_hops + 1):
        frontier = ((frontier.astype(np.float32) @ step) > 0) & ~seen
        if not frontier.any():
            break
        out[frontier] = h
        seen |= frontier
    return out


def reachability(adj: np.ndarray) -> np.ndarray:
    """Transitive closure: ``r[a, b]`` is true when a path of one or more edges leads a to b.

    Examples
    --------
    >>> reachability(adjacency(3, np.array([[0, 1], [1, 2]]))).astype(int).tolist()
    [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
    """
    step = adj.astype(np.float32)
    reach = adj.copy()
    while True:
        grown = reach | ((reach.astype(np.float32) @ step) > 0)
        if (grown == reach).all():
            return reach
        reach = grown


def neighbour_similarity(similarity: np.ndarray, adj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(like_prereqs, like_successors)``: for each pair a -> b, the highest similarity of a to
    a prerequisite b already has, and of b to a topic already built on a (0 when none).

    Examples
    --------
    >>> s = np.array([[1, .9, .1], [.9, 1, .2], [.1, .2, 1]])
    >>> pre, suc = neighbour_similarity(s, adjacency(3, np.array([[1, 2]])))
    >>> round(float(pre[0, 2]), 2), round(float(suc[1, 0]), 2), float(suc[0, 1])
    (0.9, 0.1, 0.0)
    """
    sim = similarity.copy()
    np.fill_diagonal(sim, 0.0)
    n = adj.shape[0]
    like_pre = np.zeros((n, n), dtype=np.float32)
    like_suc = np.zeros((n, n), dtype=np.float32)
    for b in np.flatnonzero(adj.any(axis=0)):
        like_pre[:, b] = sim[:, adj[:, b]].max(axis=1)
    for a in np.flatnonzero(adj.any(axis=1)):
        like_suc[a, :] = sim[adj[a, :], :].max(axis=0)
    return np.maximum(like_pre, 0), np.maximum(like_suc, 0)


# -- text features ----------------------------------------------------------------------------
def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9+#]+", " ", text.lower()).split())


def find_mentions(texts: list[str], names: list[list[str]]) -> list[set[int]]:
    """For each text, the indices of the topics it names (by a name or alias, whole words).

    Names shorter than 3 characters are ignored; a longer name does not hide a shorter one
    inside it ("convolutional neural networks" also mentions "neural networks").

    Examples
    --------
    >>> find_mentions(["Backprop in neural networks", "nothing"], [["neural networks", "nn"], ["backprop"]])
    [{0, 1}, set()]
    """
    by_length: dict[int, dict[str, set[int]]] = {}  # words in a name -> name -> topics
    for j, aliases in enumerate(names):
        for alias in aliases:
            key = _normal(alias)
            if len(key) >= MIN_NAME:
                by_length.setdefault(len(key.split()), {}).setdefault(key, set()).add(j)
    found = []
    for text in texts:
        words = _normal(text).split()
        hit: set[int] = set()
        for length, keys in by_length.items():
            for k in range(len(words) - length + 1):
                topics = keys.get(" ".join(words[k:k + length]))
                if topics:
                    hit |= topics
        found.append(hit)
    return found


def mention_matrix(texts: list[list[str]], names: list[list[str]]) -> np.ndarray:
    """``m[i, j]``: the share of topic i's texts that mention topic j by a name or alias.

    Parameters
    ----------
    texts : list of list of str
        For each topic, the texts of its items.
    names : list of list of str
        For each topic, its name and aliases (see ``find_mentions``).

    Examples
    --------
    >>> m = mention_matrix([["intro to linear algebra"], ["PCA uses Linear Algebra", "PCA"]],
    ...                    [["linear algebra"], ["pca", "principal component analysis"]])
    >>> m.tolist()
    [[0.0, 0.0], [0.5, 0.0]]
    """
    n = len(names)
    out = np.zeros((n, n), dtype=np.float32)
    unique = sorted({doc for docs in texts for doc in docs})  # an item tagged to k topics is read once
    found = dict(zip(unique, find_mentions(unique, names)))
    for i, docs in enumerate(texts):
        for doc in docs:
            out[i, list(found[doc])] += 1
        if docs:
            out[i] /= len(docs)
    np.fill_diagonal(out, 0.0)
    return out


def refd(mentions: np.ndarray) -> np.ndarray:
    """Reference distance: ``r[a, b] = m[b, a] - m[a, b]``, positive when b's items refer to a
    more than a's refer to b (a is then likely a prerequisite of b).

    Examples
    --------
    >>> refd(np.array([[0, 0.0], [0.5, 0]])).tolist()
    [[0.0, 0.5], [-0.5, 0.0]]
    """
    return (mentions.T - mentions).astype(np.float32)


def generality(mentions: np.ndarray) -> np.ndarray:
    """The share of the other topics whose items mention each topic.

    Examples
    --------
    >>> generality(np.array([[0, 0, 0], [1, 0, 0], [1, .5, 0]])).tolist()
    [1.0, 0.5, 0.0]
    """
    n = mentions.shape[0]
    return ((mentions > 0).sum(axis=0) / max(n - 1, 1)).astype(np.float32)


def series_order(series: list[dict[int, int]], n: int) -> np.ndarray:
    """``o[a, b]`` in [-1, 1]: how consistently a's items come before b's in the same series.

    Parameters
    ----------
    series : list of dict
        One dict per series: topic index -> the earliest position of that topic's items in it.
    n : int
        The number of topics.

    Examples
    --------
    >>> series_order([{0: 1, 1: 3}, {0: 2, 1: 5}], 2).tolist()
    [[0.0, 1.0], [-1.0, 0.0]]
    """
    votes = np.zeros((n, n), dtype=np.float32)
    seen = np.zeros((n, n), dtype=np.float32)
    for positions in series:
        idx = np.array(sorted(positions), dtype=np.int64)
        if len(idx) < 2:
            continue
        pos = np.array([positions[i] for i in idx], dtype=np.float32)
        sub = np.sign(pos[None, :] - pos[:, None])  # +1 where the row topic comes first
        votes[np.ix_(idx, idx)] += sub
        seen[np.ix_(idx, idx)] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen > 0, votes / np.maximum(seen, 1), 0.0).astype(np.float32)


# -- pairs -> feature rows --------------------------------------------------------------------
def pair_features(data: TopicData, edges: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """One row of ``FEATURES`` per candidate edge ``src[i] -> dst[i]``, given the known ``edges``.

    Parameters
    ----------
    data : TopicData
    edges : array of shape (m, 2)
        The prerequisite edges known so far (topic indices); the candidate pairs must not be
        among them if the features are to describe a *missing* edge.
    src, dst : int arrays of equal length
    """
    n = data.n
    adj = adjacency(n, edges)
    reach = reachability(adj)
    near = hops(adj)
    out_deg, in_deg = adj.sum(axis=1), adj.sum(axis=0)
    desc, anc = reach.sum(axis=1), reach.sum(axis=0)
    like_pre, like_suc = neighbour_similarity(data.similarity, adj)
    zero = np.zeros((n, n), dtype=np.float32)
    mentions = data.mentions if data.mentions is not None else zero
    general = generality(mentions)
    ref = refd(mentions)
    order = data.series if data.series is not None else zero
    a, b = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    h = near[a, b]
    columns = [
        data.similarity[a, b], reach[a, b], reach[b, a], np.where(h > 0, 1.0 / np.maximum(h, 1), 0.0),
        np.log1p(out_deg[a]), np.log1p(in_deg[a]), np.log1p(out_deg[b]), np.log1p(in_deg[b]),
        like_pre[a, b], like_suc[a, b],
        np.log1p(desc[a]), np.log1p(anc[a]), np.log1p(desc[b]), np.log1p(anc[b]),
        ref[a, b], mentions[b, a], general[a] - general[b], order[a, b],
    ]
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])


# -- the model --------------------------------------------------------------------------------
def default_scorer() -> Scorer:
    """Fixed weights (``DEFAULT_WEIGHTS``) for graphs with too few edges to learn from."""
    coef = np.array([DEFAULT_WEIGHTS.get(f, 0.0) for f in FEATURES])
    centre = np.array([DEFAULT_CENTRE.get(f, 0.0) for f in FEATURES])
    return Scorer(coef, DEFAULT_WEIGHTS["bias"], centre, np.ones(len(FEATURES)), trained=False)


def training_rows(data: TopicData, positives: np.ndarray, negatives: np.ndarray, folds: int = 10,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows for known edges as if each were missing: the edges are split into ``folds``,
    and each fold's edges (and its share of the negatives) are described by the graph of the
    other folds' edges. That is how a test pair looks against the whole training graph."""
    rng = np.random.default_rng(seed)
    positives = np.asarray(positives, dtype=np.int64).reshape(-1, 2)
    negatives = np.asarray(negatives, dtype=np.int64).reshape(-1, 2)
    fold_pos = rng.permutation(len(positives)) % folds
    fold_neg = rng.permutation(len(negatives)) % folds
    rows, labels = [], []
    for f in range(folds):
        graph = positives[fold_pos != f]
        pairs = np.vstack([positives[fold_pos == f], negatives[fold_neg == f]])
        if not len(pairs):
            continue
        rows.append(pair_features(data, graph, pairs[:, 0], pairs[:, 1]))
        labels.append(np.r_[np.ones((fold_pos == f).sum()), np.zeros((fold_neg == f).sum())])
    return np.vstack(rows), np.concatenate(labels)


def train(data: TopicData, positives: np.ndarray, negatives: np.ndarray, folds: int = 10, seed: int = 0,
          l2: float = 1.0) -> Scorer:
    """A scorer trained on known edges (``positives``) and known non-edges (``negatives``)."""
    X, y = training_rows(data, positives, negatives, folds=folds, seed=seed)
    return fit_logistic(X, y, l2=l2)


def sample_non_edges(n: int, edges: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Up to ``count`` random pairs with no path between them in either direction."""
    adj = adjacency(n, edges)
    reach = reachability(adj)
    free = ~(reach | reach.T)
    np.fill_diagonal(free, False)
    pairs = np.argwhere(free)
    if len(pairs) > count:
        pairs = pairs[np.random.default_rng(seed).choice(len(pairs), count, replace=False)]
    return pairs


# -- proposing --------------------------------------------------------------------------------
def candidates(n: int, edges: np.ndarray, rejected: np.ndarray | None = None,
               targets: np.ndarray | None = None) -> np.ndarray:
    """Pairs ``(a, b)`` that could become an edge: not the same topic, no path a -> b already
    (a duplicate or a redundant edge), no path b -> a (a cycle), not rejected by a curator; with
    ``targets``, only pairs whose ``b`` is one of them (prerequisites of those topics).

    Examples
    --------
    >>> candidates(3, np.array([[0, 1], [1, 2]])).tolist()
    []
    >>> candidates(3, np.array([[0, 1]]), rejected=np.array([[2, 0]])).tolist()
    [[0, 2], [1, 2], [2, 1]]
    """
    reach = reachability(adjacency(n, edges))
    ok = ~(reach | reach.T)
    np.fill_diagonal(ok, False)
    if rejected is not None and len(rejected):
        rejected = np.asarray(rejected, dtype=np.int64).reshape(-1, 2)
        ok[rejected[:, 0], rejected[:, 1]] = False
    if targets is not None:
        wanted = np.zeros(n, dtype=bool)
        wanted[np.asarray(targets, dtype=np.int64)] = True
        ok &= wanted[None, :]
    return np.argwhere(ok)


def propose(data: TopicData, edges: np.ndarray, scorer: Scorer, rejected: np.ndarray | None = None,
            limit: int = 20, min_confidence: float = 0.5, targets: np.ndarray | None = None) -> list[Suggestion]:
    """The best new edges, most confident first, each with its evidence (with ``targets``: only
    prerequisites of those topics, as for the topics an ingest creates).

    A pair is proposed in one direction only, the one scored higher; the proposals taken
    together never close a cycle (each is checked against the graph plus those before it).

    Examples
    --------
    >>> sim = np.array([[1, .7, .1], [.7, 1, .1], [.1, .1, 1]])
    >>> m = np.array([[0, 0, 0], [1.0, 0, 0], [0, 0, 0]])  # B's items mention A
    >>> data = TopicData(["a", "b", "c"], ["A", "B", "C"], sim, mentions=m)
    >>> [(s.src, s.dst) for s in propose(data, np.zeros((0, 2)), default_scorer())]
    [('a', 'b')]
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    pairs = candidates(data.n, edges, rejected, targets)
    if not len(pairs):
        return []
    if len(pairs) > MAX_CANDIDATES:  # a prerequisite is related to what needs it
        sim = data.similarity[pairs[:, 0], pairs[:, 1]]
        floor = -np.partition(-sim, MAX_CANDIDATES - 1)[MAX_CANDIDATES - 1]
        pairs = pairs[sim >= floor]  # ties kept, so both directions of a pair stay
    X = pair_features(data, edges, pairs[:, 0], pairs[:, 1])
    prob = scorer.predict(X)
    score = np.full((data.n, data.n), -1.0)
    score[pairs[:, 0], pairs[:, 1]] = prob
    # One direction per pair: it must beat the reverse (which may not be a candidate at all).
    better = prob > np.where(score[pairs[:, 1], pairs[:, 0]] >= 0, score[pairs[:, 1], pairs[:, 0]], 0.0)
    keep = np.flatnonzero(better & (prob >= min_confidence))
    keep = keep[np.argsort(-prob[keep], kind="stable")]
    contrib = scorer.contributions(X[keep]) if len(keep) else np.zeros((0, len(FEATURES)))
    reach = reachability(adjacency(data.n, edges))
    out: list[Suggestion] = []
    for row, i in enumerate(keep):
        a, b = int(pairs[i, 0]), int(pairs[i, 1])
        if reach[b, a] or reach[a, b]:  # an earlier proposal now closes a cycle or implies it
            continue
        out.append(Suggestion(data.ids[a], data.ids[b], data.names[a], data.names[b], round(float(prob[i]), 4),
                              _why(X[i], contrib[row], data.names[a], data.names[b]), _evidence(X[i])))
        # a -> b: everything that reaches a now reaches everything b reaches.
        into_a = reach[:, a].copy()
        into_a[a] = True
        from_b = reach[b, :].copy()
        from_b[b] = True
        reach |= np.outer(into_a, from_b)
        if len(out) >= limit:
            break
    return out


def _evidence(x: np.ndarray) -> dict:
    return {name: round(float(v), 4) for name, v in zip(FEATURES, x) if v}


def _why(x: np.ndarray, contrib: np.ndarray, src: str, dst: str) -> str:
    reasons = []
    for j in np.argsort(-contrib):
        name = FEATURES[j]
        if contrib[j] <= 0.05 or name not in WHY or not x[j]:
            continue
        text = WHY[name].format(float(x[j]), src=src, dst=dst)
        if text not in reasons:
            reasons.append(text)
        if len(reasons) == 3:
            break
    return "; ".join(reasons) or "weak evidence"


# -- a library's data and a curator's decisions ------------------------------------------------
def library_data(lib: "Library") -> tuple[TopicData, np.ndarray, np.ndarray]:
    """(TopicData, prerequisite edges, rejected pairs) of a library, as index arrays."""
    store = lib.store
    topics = store.topics()
    ids = [t["id"] for t in topics]
    index = {tid: i for i, tid in enumerate(ids)}
    n = len(ids)
    vec_ids, matrix = lib.topic_vectors() if n else ([], np.zeros((0, 0)))
    sim = np.zeros((n, n), dtype=np.float32)
    if n and len(vec_ids):
        rows = np.array([vec_ids.index(t) if t in vec_ids else -1 for t in ids])
        have = rows >= 0
        vecs = np.zeros((n, matrix.shape[1]), dtype=np.float32)
        vecs[have] = matrix[rows[have]]
        sim = vecs @ vecs.T
    texts: list[list[str]] = [[] for _ in ids]
    series: dict[tuple[str, str], dict[int, int]] = {}
    for dst, title, text, source, name, position in store.topic_texts():
        if dst not in index:
            continue
        t = index[dst]
        texts[t].append(f"{title}\n{text or ''}")
        if name and position is not None:
            first = series.setdefault((source or "", name), {})
            first[t] = min(first.get(t, position), position)
    names = [[t["name"], *t["aliases"]] for t in topics]
    data = TopicData(ids, [t["name"] for t in topics], sim, mention_matrix(texts, names),
                     series_order(list(series.values()), n))
    edges = np.array([(index[e["src"]], index[e["dst"]]) for e in store.edges("prereq")
                      if e["src"] in index and e["dst"] in index], dtype=np.int64).reshape(-1, 2)
    rejected = np.array([(index[a], index[b]) for (a, b), d in store.decisions().items()
                         if d == "rejected" and a in index and b in index], dtype=np.int64).reshape(-1, 2)
    return data, edges, rejected


def library_scorer(data: TopicData, edges: np.ndarray, seed: int = 0) -> Scorer:
    """Trained on the library's own edges when it has ``MIN_TRAIN_EDGES`` of them, else fixed."""
    if len(edges) < MIN_TRAIN_EDGES:
        return default_scorer()
    negatives = sample_non_edges(data.n, edges, MAX_NEGATIVES * len(edges), seed=seed)
    if len(negatives) < len(edges):
        return default_scorer()
    return train(data, edges, negatives, folds=5, seed=seed)


def suggest(lib: "Library", limit: int = 20, min_confidence: float = 0.5) -> list[Suggestion]:
    """Proposed prerequisite edges for ``lib``: never a duplicate, a cycle or a rejected pair."""
    data, edges, rejected = library_data(lib)
    if data.n < 2:
        return []
    return propose(data, edges, library_scorer(data, edges), rejected, limit=limit, min_confidence=min_confidence)
