"""Near-duplicate pairs across the library."""
from __future__ import annotations

from ...text import same_resource


def duplicates(lib, threshold: float = 0.95, limit: int = 1000, include_other_links: bool = False) -> list[dict]:
    """Near-duplicate pairs across the library (cosine >= threshold), best first.

    Pairs whose items both have links, and different ones, are left out unless
    ``include_other_links``: same-titled slides of two courses are not one resource."""
    ids, vectors = lib.vectors()
    if len(ids) < 2:
        return []
    scores, hits = lib.index.search(vectors, 6)
    pairs: dict[tuple[int, int], float] = {}
    for num, row_s, row_h in zip(ids, scores, hits):
        for s, h in zip(row_s, row_h):
            if h >= 0 and h != num and s >= threshold:
                key = (min(int(num), int(h)), max(int(num), int(h)))
                pairs[key] = max(pairs.get(key, 0.0), float(s))
    ordered = sorted(pairs.items(), key=lambda kv: -kv[1])
    rows = lib.store.items_by_num(sorted({n for pair, _ in ordered for n in pair}))
    out = []
    for (a, b), s in ordered:
        ra, rb = rows[a], rows[b]
        if not include_other_links and not same_resource(ra["url"], rb["url"]):
            continue
        if len(out) >= limit:
            break
        out.append({"score": round(s, 4),
                    "a": {"id": ra["id"], "title": ra["title"], "source": ra["source"], "url": ra["url"]},
                    "b": {"id": rb["id"], "title": rb["title"], "source": rb["source"], "url": rb["url"]}})
    return out
