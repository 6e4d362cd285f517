"""`python bench/kill_at.py POINT --library DIR ingest FILE`: the CLI, killed with SIGKILL at one
exact point of an ingest. Used by bench/faults.py and tests/test_reliability.py.

POINT is one of:
- transaction: inside the ingest's one transaction, after its writes;
- commit: after the commit, before the index is written;
- index-write: halfway through writing the index's temporary file.
"""
import os
import signal
import sys


def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


point = sys.argv.pop(1)
if point == "transaction":
    from aidlgraph.build import apply
    apply.similar_edges = die
elif point == "commit":
    from aidlgraph import index
    index.VectorIndex.save = die
elif point == "index-write":
    import faiss
    real = faiss.write_index

    def partial(idx, path):
        real(idx, path)
        with open(path, "r+b") as fh:
            fh.truncate(100)
        die()
    faiss.write_index = partial
else:
    sys.exit(f"unknown kill point {point!r}: use transaction, commit or index-write")

from aidlgraph.cli import main  # noqa: E402

sys.argv[0] = "aidlgraph"
main()
