"""Importers: other projects' knowledge graphs turned into a corpus Batch.

An importer parses a foreign export into topics, prerequisite edges (provenance ``imported``) and
items, and hands them to ``ingest.ingest_batches``, so imported data goes through the same
validated, transactional path as any ingest and lands in the user's library, never in ``data/``.
"""
from __future__ import annotations

from .metacademy import import_metacademy, load_metacademy

__all__ = ["import_metacademy", "load_metacademy"]
