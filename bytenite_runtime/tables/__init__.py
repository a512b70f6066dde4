"""Table formats for the ``row`` partitioner and the table ``concat``: one module per family.

``source``     formats, transparent decompression, how many chunks a file gets
``delimited``  CSV, TSV and JSON Lines: bytes copied, never parsed into rows
``columnar``   Parquet and Arrow IPC / Feather: row groups and record batches
``npy``        NumPy ``.npy`` arrays, split along the first axis through a memory map
``slots``      chunk metadata inside Parquet/Arrow key-value metadata
``join``       joining table results back together, in chunk order

``delimited`` and ``columnar`` keep their parts in private modules beside them
(``_cutter``, ``_background``, ``_fields``; ``_parquet``, ``_arrow_ipc``,
``_columnar_base``), each saying in its docstring what it holds.

Everything here needs the ``tables`` extra (numpy, pyarrow, zstandard); nothing here
is imported until a table component runs.
"""
