"""`python -m aidlgraph` runs the CLI."""
from .cli import main

main()
