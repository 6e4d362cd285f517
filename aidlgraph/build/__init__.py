"""Writing the library: ``plan`` (pure: parsed batches and a snapshot in, what to write out),
``apply`` (one transaction), ``ingest`` (load, plan, embed, tag, apply), ``bootstrap`` (create a
library, from the shipped corpus), ``imports`` (Metacademy) and ``curate`` (a curator's accept and
reject of prerequisite edges)."""
