"""Suggesting prerequisite edges: the feature functions on tiny hand-built data, the scorer,
the proposals' guarantees (no duplicate, no cycle, no rejected pair), and the curator's CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from aidlgraph.query import suggest as sg
from aidlgraph.cli import cli

E = np.zeros((0, 2), dtype=np.int64)


def pairs(*edges):
    return np.array(edges, dtype=np.int64).reshape(-1, 2)


def topics(n, similarity=None, mentions=None, series=None):
    sim = np.eye(n) if similarity is None else np.asarray(similarity, dtype=np.float64)
    ids = [chr(ord("a") + i) for i in range(n)]
    return sg.TopicData(ids, [i.upper() for i in ids], sim,
                        None if mentions is None else np.asarray(mentions, dtype=np.float32),
                        None if series is None else np.asarray(series, dtype=np.float32))


# -- graph features -----------------------------------------------------------------------------
def test_reachability_and_hops_on_a_chain_with_a_shortcut():
    #  0 > 1 > 2 > 3 and 0 > 3 ; 4 alone
    adj = sg.adjacency(5, pairs((0, 1), (1, 2), (2, 3), (0, 3)))
    reach = sg.reachability(adj)
    assert reach[0, 3] and reach[1, 3] and not reach[3, 0] and not reach[:, 4].any()
    assert not reach.diagonal().any()
    h = sg.hops(adj)
    assert h[0, 3] == 1 and h[1, 3] == 2 and h[0, 2] == 2 and h[3, 0] == 0
    assert sg.hops(adj, max_hops=1)[1, 3] == 0


def test_neighbour_similarity_looks_at_existing_prerequisites_and_successors():
    # 1 > 2 is known; 0 resembles 1 strongly
    sim = np.array([[1, .9, .0], [.9, 1, .3], [.0, .3, 1]])
    like_pre, like_suc = sg.neighbour_similarity(sim, sg.adjacency(3, pairs((1, 2))))
    assert like_pre[0, 2] == pytest.approx(0.9)   # 0 resembles 2's prerequisite (1)
    assert like_pre[0, 1] == 0                    # 1 has no prerequisites
    assert like_suc[1, 0] == pytest.approx(0.0)   # 0 does not resemble 2, 1's successor
    assert like_suc[1, 1] == pytest.approx(0.3)


# -- text features ------------------------------------------------------------------------------
def test_mentions_are_whole_words_by_name_or_alias():
    names = [["linear algebra", "la"], ["principal component analysis", "pca"], ["neural networks"],
             ["convolutional neural networks", "cnn"]]
    found = sg.find_mentions([
        "PCA rests on Linear-Algebra.",           # alias, punctuation-insensitive
        "Multilinear algebras",                   # not a whole-word match
        "Convolutional neural networks (CNNs)",   # nested: both the long and the short name
        "la la land",                             # 'la' is too short to count
    ], names)
    assert found == [{0, 1}, set(), {2, 3}, set()]


def test_mention_matrix_counts_the_share_of_items():
    texts = [["all about linear algebra"],                                  # topic 0
             ["PCA needs linear algebra", "PCA by example", "eigen and linear algebra"]]  # topic 1
    m = sg.mention_matrix(texts, [["linear algebra"], ["pca"]])
    assert m[1, 0] == pytest.approx(2 / 3) and m[0, 1] == 0
    assert m[0, 0] == 0 and m[1, 1] == 0  # a topic's own items mentioning it prove nothing


def test_refd_and_generality_point_from_the_basic_topic():
    m = np.array([[0, 0, 0], [0.8, 0, 0], [0.5, 0.2, 0]])  # 1 and 2 mention 0; 2 mentions 1
    r = sg.refd(m)
    assert r[0, 1] == pytest.approx(0.8) and r[1, 0] == pytest.approx(-0.8)
    assert r[1, 2] == pytest.approx(0.2)
    g = sg.generality(m)
    assert g[0] > g[1] > g[2] == 0


def test_series_order_votes_and_disagreement_cancels():
    order = sg.series_order([{0: 1, 1: 2, 2: 3}, {0: 4, 1: 2}], 3)
    assert order[1, 2] == 1 and order[2, 1] == -1
    assert order[0, 1] == 0            # before in one series, after in the other
    assert order[0, 2] == 1
    assert np.allclose(order, -order.T)


# -- candidates and proposals -------------------------------------------------------------------
def test_candidates_exclude_duplicates_redundant_cycles_and_rejected():
    #  0 > 1 > 2 ; 3 alone
    got = {tuple(p) for p in sg.candidates(4, pairs((0, 1), (1, 2)), rejected=pairs((3, 0)))}
    assert (0, 1) not in got             # duplicate
    assert (0, 2) not in got             # already implied
    assert (2, 0) not in got and (1, 0) not in got  # would close a cycle
    assert (3, 0) not in got             # rejected
    assert (0, 3) in got and (3, 1) in got
    assert all(a != b for a, b in got)


def test_direction_comes_from_the_items_mentions():
    # A and B are similar; B's items mention A (never the reverse): A before B
    data = topics(3, similarity=[[1, .6, .1], [.6, 1, .1], [.1, .1, 1]], mentions=[[0, 0, 0], [.5, 0, 0], [0, 0, 0]])
    found = sg.propose(data, E, sg.default_scorer())
    assert [(s.src, s.dst) for s in found] == [("a", "b")]
    s = found[0]
    assert 0.5 <= s.confidence <= 1 and s.src_name == "A" and s.dst_name == "B"
    assert "mention" in s.why and s.evidence["refd"] == pytest.approx(0.5)


def test_direction_comes_from_series_order():
    data = topics(2, similarity=[[1, .6], [.6, 1]], series=sg.series_order([{1: 1, 0: 2}], 2))
    assert [(s.src, s.dst) for s in sg.propose(data, E, sg.default_scorer())] == [("b", "a")]


def test_similarity_without_a_direction_proposes_nothing():
    data = topics(2, similarity=[[1, .9], [.9, 1]])
    assert sg.propose(data, E, sg.default_scorer(), min_confidence=0.0) == []


def test_unrelated_topics_score_low():
    # one item of B's five happens to name A, but the two have nothing else in common
    m = np.zeros((4, 4))
    m[1, 0] = 0.2
    data = topics(4, similarity=np.full((4, 4), .05) + .95 * np.eye(4), mentions=m)
    found = sg.propose(data, E, sg.default_scorer(), min_confidence=0.0)
    assert found and found[0].confidence < 0.2
    assert sg.propose(data, E, sg.default_scorer()) == []  # default threshold 0.5


def test_proposals_together_never_close_a_cycle():
    # evidence for a > b, b > c and c > a (each one's items mention the one before it)
    m = np.zeros((3, 3))
    m[1, 0], m[2, 1], m[0, 2] = 1.0, 0.9, 0.8
    data = topics(3, similarity=np.full((3, 3), .6) + .4 * np.eye(3), mentions=m)
    found = [(s.src, s.dst) for s in sg.propose(data, E, sg.default_scorer())]
    assert found == [("a", "b"), ("b", "c")]  # c > a, the weakest, would close the loop


def test_existing_edges_and_rejected_pairs_are_never_proposed():
    m = np.zeros((3, 3))
    m[1, 0], m[2, 0] = 1.0, 1.0  # b's and c's items mention a
    data = topics(3, similarity=np.full((3, 3), .6) + .4 * np.eye(3), mentions=m)
    assert {(s.src, s.dst) for s in sg.propose(data, E, sg.default_scorer())} == {("a", "b"), ("a", "c")}
    found = sg.propose(data, pairs((0, 1)), sg.default_scorer(), rejected=pairs((0, 2)), min_confidence=0.0)
    proposed = {(s.src, s.dst) for s in found}
    assert proposed and not proposed & {("a", "b"), ("b", "a"), ("a", "c")}


def test_limit_and_order():
    m = np.zeros((4, 4))
    m[1, 0], m[2, 0], m[3, 0] = 1.0, 0.6, 0.3
    data = topics(4, similarity=np.full((4, 4), .6) + .4 * np.eye(4), mentions=m)
    found = sg.propose(data, E, sg.default_scorer(), limit=2)
    assert [(s.src, s.dst) for s in found] == [("a", "b"), ("a", "c")]
    assert found[0].confidence >= found[1].confidence


# -- the model ------------------------------------------------------------------------------------
def test_fit_logistic_separates_and_weights_classes():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(1, 1, (20, 2)), rng.normal(-1, 1, (400, 2))]
    y = np.r_[np.ones(20), np.zeros(400)]
    model = sg.fit_logistic(X, y)
    p = model.predict(X)
    # classes weigh the same, so the rare class is still found
    assert (p[:20] > 0.5).mean() > 0.7 and (p[20:] < 0.5).mean() > 0.7
    assert model.coef[0] > 0 and model.coef[1] > 0


def test_a_constant_feature_gets_no_say():
    X = np.column_stack([np.r_[0.0, 1, 2, 3], np.ones(4)])
    model = sg.fit_logistic(X, np.array([0, 0, 1, 1]), l2=0.1)
    assert np.isfinite(model.coef).all() and model.coef[1] == 0


def test_training_rows_describe_each_edge_as_missing():
    positives = pairs((0, 1), (1, 2))
    X, y = sg.training_rows(topics(3), positives, pairs((2, 0)), folds=2, seed=0)
    reaches = X[:, sg.FEATURES.index("reaches")]
    assert sorted(y.tolist()) == [0, 1, 1]
    assert (reaches[y == 1] == 0).all()  # an edge's own presence is never its evidence


def test_trained_scorer_finds_held_out_edges():
    # a layered hierarchy: 4 roots, then layers that build on the one before; topics in a
    # chain resemble each other, unrelated ones do not
    rng = np.random.default_rng(1)
    n, groups = 40, 4
    group = np.arange(n) % groups
    layer = np.arange(n) // groups
    edges = pairs(*[(i, j) for i in range(n) for j in range(n) if group[i] == group[j] and layer[j] == layer[i] + 1])
    sim = np.where(group[:, None] == group[None, :], 0.6, 0.1) + rng.normal(0, 0.05, (n, n))
    sim = (sim + sim.T) / 2
    np.fill_diagonal(sim, 1.0)
    data = topics(n, similarity=sim)
    held = edges[::4]
    kept = np.array([e for e in edges.tolist() if e not in held.tolist()])
    scorer = sg.train(data, kept, sg.sample_non_edges(n, kept, 400, seed=0), folds=4)
    assert scorer.trained
    X_held = sg.pair_features(data, kept, held[:, 0], held[:, 1])
    others = sg.sample_non_edges(n, edges, 200, seed=1)
    X_other = sg.pair_features(data, kept, others[:, 0], others[:, 1])
    held_p, other_p = scorer.predict(X_held), scorer.predict(X_other)
    auc = (held_p[:, None] > other_p[None, :]).mean()
    assert auc > 0.9, auc


def test_small_graphs_use_fixed_weights():
    data = topics(4)
    assert not sg.library_scorer(data, pairs((0, 1), (1, 2))).trained


# -- the curator's loop on a real library ----------------------------------------------------------
def test_suggest_accept_reject_cli(mini_library):
    lib = mini_library
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, ["--library", str(lib.path), "graph", *args])

    def prereqs():
        return {(e["src"], e["dst"]): e for e in lib.store.edges("prereq")}

    result = invoke("suggest", "--json", "--min-confidence", "0", "--limit", "100")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found and all({"src", "dst", "src_name", "dst_name", "confidence", "why", "evidence"} <= set(s) for s in found)
    assert [s["confidence"] for s in found] == sorted((s["confidence"] for s in found), reverse=True)
    before = prereqs()
    import networkx as nx
    g = nx.DiGraph(list(before))
    for s in found:  # never a duplicate, never a cycle
        assert (s["src"], s["dst"]) not in before
        assert not (s["dst"] in g and s["src"] in g and nx.has_path(g, s["dst"], s["src"]))
    assert len({frozenset((s["src"], s["dst"])) for s in found}) == len(found)
    text = invoke("suggest", "--min-confidence", "0", "--limit", "2")
    assert text.exit_code == 0 and "why:" in text.output and " -> " in text.output

    # reject: recorded, and never proposed again
    first = found[0]
    result = invoke("reject", first["src_name"], first["dst_name"], "--reason", "not really")
    assert result.exit_code == 0, result.output
    assert f"rejected {first['src_name']} -> {first['dst_name']}" in result.output
    assert lib.store.decisions()[(first["src"], first["dst"])] == "rejected"
    again = json.loads(invoke("suggest", "--json", "--min-confidence", "0", "--limit", "100").output)
    assert (first["src"], first["dst"]) not in {(s["src"], s["dst"]) for s in again}
    assert prereqs() == before

    # accept: a curated edge with its reason, and the decision
    result = invoke("accept", "gpu hardware", "unified memory", "--reason", "managed memory migrates pages")
    assert result.exit_code == 0, result.output
    assert "accepted gpu architecture -> unified memory: added as a curated prerequisite" in result.output
    edge = prereqs()[("gpu-architecture", "unified-memory")]
    assert edge["source"] == "curated" and edge["reason"] == "managed memory migrates pages"
    assert lib.store.decisions()[("gpu-architecture", "unified-memory")] == "accepted"

    # a cycle is refused, named, and nothing is written
    snapshot = (prereqs(), lib.store.decisions())
    result = invoke("accept", "semantic segmentation", "neural networks")
    assert result.exit_code == 1
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1
    assert ("semantic segmentation -> neural networks -> convolutional neural networks -> semantic segmentation"
            in lines[0])
    assert (prereqs(), lib.store.decisions()) == snapshot

    # the same topic twice, or an unknown one: one line, exit 1
    assert invoke("accept", "cuda", "cuda basics").exit_code == 1
    unknown = invoke("reject", "medieval tapestry weaving", "cuda basics")
    assert unknown.exit_code == 1 and "the library has no topic for" in unknown.output


def test_many_candidates_keep_the_most_similar_pairs_both_ways(monkeypatch):
    monkeypatch.setattr(sg, "MAX_CANDIDATES", 3)
    sim = np.array([[1, .9, .1, .1], [.9, 1, .1, .1], [.1, .1, 1, .8], [.1, .1, .8, 1]])
    m = np.zeros((4, 4))
    m[1, 0], m[3, 2], m[2, 0] = 1.0, 1.0, 1.0  # a > c has evidence too, but a and c are unalike
    found = sg.propose(topics(4, similarity=sim, mentions=m), E, sg.default_scorer(), min_confidence=0.0)
    assert [(s.src, s.dst) for s in found] == [("a", "b"), ("c", "d")]
