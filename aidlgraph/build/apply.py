"""Writing a plan: one database transaction, the FAISS index updated alongside (saved by
``Library.writing`` after the commit)."""
from __future__ import annotations

import numpy as np

from ..text import same_resource
from .plan import Plan

SIMILAR_K = 5
SIMILAR_MIN = 0.55
DUPLICATE_MIN = 0.95


def apply(lib, plan: Plan, vectors: np.ndarray, inferred: dict[str, list[tuple[str, float, str]]], report,
          parts: dict | None = None, suggested: list[dict] = ()) -> None:
    """Write ``plan`` (with the vectors of ``plan.to_embed``, their passages, the inferred tags and
    the suggested prerequisites of its new topics) into ``lib``; call it holding
    ``lib.writing()``. Fills in ``report``."""
    store, index = lib.store, lib.index
    with store.transaction():
        if len(vectors) and lib.dim is None:
            store.set_meta("dim", int(vectors.shape[1]))
        for origin, topics in plan.new_topics.items():
            store.upsert_topics(topics, origin)
        store.delete_edges(plan.dropped, "prereq")
        store.add_edges(plan.prereqs_written)
        store.add_edges(suggested)
        nums: dict[str, int] = {}
        about = []
        renewed = [iid for iid in plan.changed if iid in plan.stored]
        store.delete_edges_from(renewed, ("about", "next"))
        for iid in plan.changed:
            item, origin, topic_ids = plan.items[iid]
            nums[iid] = store.upsert_item(item, origin, plan.num(iid), plan.hashes[iid])
            about += [{"src": iid, "dst": t, "kind": "about", "source": "curated", "confidence": 1.0} for t in topic_ids]
            about += [{"src": iid, "dst": t, "kind": "about", "source": "inferred", "confidence": round(s, 4),
                       "reason": why} for t, s, why in inferred.get(iid, [])]
        store.add_edges(about)
        store.set_origins(plan.moved)
        report.updated = len(renewed)
        report.new = len(plan.changed) - report.updated
        emb_nums = [nums.get(i) or plan.num(i) for i in plan.to_embed]
        if plan.to_embed:
            store.put_vectors(emb_nums, [plan.hashes[i] for i in plan.to_embed], vectors)
        for iid, num in zip(plan.to_embed, emb_nums):
            if parts and iid in parts:
                store.put_passages(num, *parts[iid])
        removed = list(plan.gone.values())
        store.delete_items(removed)
        report.removed = len(removed)
        for source, series in {(i.source, i.series) for i in (plan.items[c][0] for c in plan.changed) if i.series}:
            store.replace_series_edges(source, series)
        index.remove(removed + emb_nums)
        index.add(np.asarray(emb_nums, dtype=np.int64), vectors)
        report.duplicates = similar_edges(store, index, plan.to_embed, emb_nums, vectors, renewed=set(plan.stored))
        store.record_sources(plan.batches)


def similar_edges(store, index, item_ids: list[str], nums: list[int], vectors: np.ndarray,
                  renewed: set[str] = frozenset()) -> list[tuple[str, str, float]]:
    """Link each (re-)embedded item to its nearest neighbours; return likely duplicates."""
    if not len(nums):
        return []
    scores, hits = index.search(vectors, SIMILAR_K + 1)
    keep = (hits >= 0) & (hits != np.asarray(nums, dtype=np.int64)[:, None]) & (scores >= SIMILAR_MIN)
    pairs = list(zip(np.nonzero(keep)[0].tolist(), hits[keep].tolist(), scores[keep].tolist()))
    known = store.item_ids_and_urls([hit for _, hit, _ in pairs] + [int(n) for n in nums])
    # only items stored before this ingest can have similar-edges to replace
    store.delete_edges_from([iid for iid in item_ids if iid in renewed], ("similar",))
    rows, dupes, seen = [], [], set()
    for row, hit, score in pairs:
        if hit not in known:
            continue
        iid, other = item_ids[row], known[hit][0]
        rows.append({"src": iid, "dst": other, "kind": "similar", "source": "inferred",
                     "confidence": round(score, 4), "reason": ""})
        own_url = known.get(int(nums[row]), ("", ""))[1]
        if score >= DUPLICATE_MIN and (other, iid) not in seen and same_resource(own_url, known[hit][1]):
            seen.add((iid, other))
            dupes.append((iid, other, score))
    store.add_edges(rows)
    return dupes
