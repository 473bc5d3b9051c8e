"""Number rules shared by every parser: what counts as an integer, and the largest id a database holds."""

from __future__ import annotations

# Largest value of a signed 64-bit column: anything larger must be refused before it reaches the database.
MAX_ID = 2**63 - 1
# Largest quota a user or key may be given: room to add top-ups without overflowing MAX_ID.
MAX_QUOTA = 2**62
# New API's quota unit: 500,000 quota is one US dollar.
QUOTA_PER_UNIT = 500_000


def is_decimal(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts characters such as '²' that int() rejects."""
    return bool(text) and text.isascii() and text.isdigit()
