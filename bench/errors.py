"""The one error the benchmark reports as a single line (a server that does not start, a database that
cannot be reached, a dataset that does not match)."""

from __future__ import annotations


class BenchError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
