"""The HTTP server: ``app`` (routes), ``bodies`` (request parsing). FastAPI is imported only when
an app is created."""
from __future__ import annotations

from .app import create_app, serve

__all__ = ["create_app", "serve"]
