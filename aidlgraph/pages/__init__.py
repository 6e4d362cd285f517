"""The web pages: what a person sees, beside the JSON a program gets.

- ``contexts``: each page's data, from the same query calls and ``views`` as the CLI's
  ``--json`` (nothing is computed twice);
- ``svg``: the prerequisite graph as a layered SVG picture, drawn on the server;
- ``render``: Jinja2 templates (``templates/``) and the stylesheet and script (``static/``)
  turned into HTML; a page can be rendered standalone (one file, stylesheet inlined, no script).

The server's routes are in ``aidlgraph.serve.web``; ``aidlgraph path --format html`` saves the
path page as one file.
"""
from __future__ import annotations


def path_file(lib, result, known: list[str] = ()) -> str:
    """The path page for ``result`` (a ``ReadingPath`` computed with ``known``) as one
    self-contained HTML file."""
    from .. import views
    from . import contexts, render

    return render.page("path", contexts.path(lib, views.path_json(result), list(known)), standalone=True)
