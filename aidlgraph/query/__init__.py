"""Reading the library: ``resolve`` (what a query names), ``path``, ``related``, ``ask``,
``suggest``, ``check`` and ``browse``. Nothing here writes the library, except ``check.repair``
(under the write lock) and the caches every reader may fill."""
