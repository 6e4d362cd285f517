"""notebooks/explore.ipynb runs top to bottom, so it cannot rot."""
from __future__ import annotations

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_explore_notebook_runs(shipped_library_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("AIDLGRAPH_HOME", str(shipped_library_path))
    nb = nbformat.read(ROOT / "notebooks" / "explore.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "the graph should be drawn as a picture"
    text = "".join(o.get("text", "") for o in outputs)
    assert "semantic segmentation" in text and "Mellanox" in text
