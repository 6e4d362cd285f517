"""Stored rows as the rest of aidlgraph sees them: JSON columns decoded, flags as booleans."""
from __future__ import annotations

import json


def item_row(row: dict) -> dict:
    """An ``items`` row (with its ``topic_ids`` JSON array) as a plain dict."""
    row["authors"] = json.loads(row.get("authors") or "[]")
    row["extra"] = json.loads(row.get("extra") or "{}")
    row["topics"] = json.loads(row.pop("topic_ids", None) or "[]")
    row["free"] = None if row.get("free") is None else bool(row["free"])
    row["core"] = bool(row.get("core"))
    return row


def topic_row(row: dict) -> dict:
    """A ``topics`` row with its aliases decoded and empty fields normalised."""
    row["aliases"] = json.loads(row.get("aliases") or "[]")
    row["description"] = row.get("description") or ""
    row["origin"] = row.get("origin") or ""
    return row
