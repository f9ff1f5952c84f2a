"""Where users already work: PostgreSQL (in-database scoring) and others.

Kept import-free on purpose: `estuary.integrations.pg_server` runs inside PostgreSQL's
PL/Python interpreter, where only numpy, onnxruntime and a slim copy of estuary exist.
"""
