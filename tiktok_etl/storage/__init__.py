"""PostgreSQL + Parquet storage: schema, migrations, partition writes, accounts and tokens.

The system of record is PostgreSQL; the Parquet dataset is the open copy for lakehouse
engines. This package knows nothing about Dagster, the TikTok HTTP clients or the sandbox:
callers hand it plain values (rows as mappings, tokens as strings).
"""
