"""Hourly usage: what the data endpoints and charts read, kept as logs are written."""

from __future__ import annotations

from dataclasses import dataclass


# Not frozen: a month of a heavy user's hours is some 15,000 buckets, and a frozen dataclass's __init__
# (one object.__setattr__ per field) took six times as long to build them (9.8 against 1.6 ms).
@dataclass(slots=True)
class UsageBucket:
    """Consume rows of one model in one hour, of one user or summed over all users; `user_id` and
    `username` are filled only where the answer names the user (an admin's per-username query)."""

    model_name: str
    created_at: int
    count: int
    quota: int
    token_used: int
    user_id: int | None = None
    username: str | None = None
