"""Benchmark of tokenledger at large sizes, through its HTTP API: `python -m bench --rows N --backend B`.

A deterministic dataset is loaded through the real ingest code, a real server is started on it, and every
read endpoint, ingest throughput, reads under ingest load and the server's peak memory are measured.
"""
