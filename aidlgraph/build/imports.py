"""Importing other projects' knowledge graphs: parsed by ``corpus``, decided against the
library here, written by ingest, so imported data goes through the same validated, transactional
path as any ingest and lands in the user's library, never in ``data/``.

What an import never does: overwrite a curated edge or a topic defined elsewhere in the library,
bring back an edge a curator rejected, or re-embed anything unchanged (content hashes).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..corpus.metacademy import parse
from ..corpus.model import Prereq, Topic
from ..library import Library
from ..text import normalise_name
from .ingest import IngestReport, ingest_batches
from .plan import same_topic


@dataclass
class ImportReport:
    """What an import did: the ingest report plus what was left out, and why."""

    ingest: IngestReport | None
    concepts: int = 0
    dependencies: int = 0
    resources: int = 0
    kept_curated_edges: int = 0
    skipped_resources: int = 0

    def summary(self) -> str:
        line = (f"Metacademy: {self.concepts} concepts, {self.dependencies} dependencies, "
                f"{self.resources} resources; ")
        extra = []
        if self.kept_curated_edges:
            extra.append(f"{self.kept_curated_edges} edges left as the curators decided")
        if self.skipped_resources:
            extra.append(f"{self.skipped_resources} resources without a title skipped")
        return line + self.ingest.summary() + (f" ({'; '.join(extra)})" if extra else "")




def import_metacademy(lib: Library, path: str | os.PathLike, progress: bool = False, wait: float = 0.0) -> ImportReport:
    """Import a Metacademy export into ``lib`` through ``ingest.ingest_batches``.

    Topics the library already defines elsewhere keep their definition, imported topics that are
    unchanged are left alone (so a re-import writes nothing and embeds nothing), and an imported
    edge is dropped where a curator decided otherwise: a curated edge on the same pair (either
    direction) or a rejected suggestion.
    """
    batch, skipped = parse(path)
    report = ImportReport(ingest=None, concepts=len(batch.topics), dependencies=len(batch.prereqs),
                          resources=len(batch.items), skipped_resources=skipped)
    with lib.writing(wait=wait):
        store = lib.store
        stored = {t["id"]: t for t in store.topics()}
        lookup = store.topic_names()
        ref: dict[str, str] = {}  # topic name in the batch -> how ingest should find it
        keep: list[Topic] = []
        for t in batch.topics:
            old = stored.get(t.id)
            if old is not None:
                ref[t.name] = t.id
                if old["origin"] == batch.origin and not same_topic(old, t):
                    keep.append(t)  # this file changed the topic: update it
                continue  # unchanged, or defined by another source: leave it
            known = lookup.get(normalise_name(t.name)) or lookup.get(normalise_name(t.id))
            if known and known != t.id:
                ref[t.name] = known  # the library has this topic under another id: use that one
                continue
            keep.append(t)
            for alias in (t.id, *t.aliases):
                lookup.setdefault(normalise_name(alias), t.id)
            lookup[normalise_name(t.name)] = t.id
        batch.topics = keep
        # Ingest finds topics by name, and a name always wins over an alias: hand it names.
        names = {tid: t["name"] for tid, t in stored.items()} | {t.id: t.name for t in keep}

        def resolve(name: str) -> str:
            return ref.get(name) or lookup[normalise_name(name)]

        decided = {(e["src"], e["dst"]) for e in store.edges("prereq") if e["source"] == "curated"}
        decided |= {(b, a) for a, b in decided}
        decided |= {pair for pair, d in store.decisions().items() if d == "rejected"}
        prereqs = []
        for p in batch.prereqs:
            src, dst = resolve(p.src), resolve(p.dst)
            if src == dst:  # two concepts the library holds as one topic
                continue
            if (src, dst) in decided:
                report.kept_curated_edges += 1
                continue
            prereqs.append(Prereq(names[src], names[dst], p.reason, p.source, p.confidence))
        batch.prereqs = prereqs
        for item in batch.items:
            item.topics = list(dict.fromkeys(names[resolve(n)] for n in item.topics))
        report.ingest = ingest_batches(lib, [batch], progress=progress, locked=True)
    return report
