"""Fetch-and-shape logic for each raw table, independent of Dagster.

Each module here turns API reads for one account and one UTC day into rows for one raw
table (plus the records that failed validation). The Dagster assets only wire these
functions to resources and record metadata; the benchmarks and tests call them directly.
"""
