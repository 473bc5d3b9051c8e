"""API keys (New API calls them tokens): the `sk-` keys clients call models with."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class KeyStatus(IntEnum):
    ENABLED = 1
    DISABLED = 2
    EXPIRED = 3
    EXHAUSTED = 4


# New API's marker for a key that never expires.
NEVER_EXPIRES = -1


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    user_id: int
    name: str
    key_hint: str
    status: int
    created_at: int
    accessed_at: int
    expired_time: int
    remain_quota: int
    unlimited_quota: bool
    used_quota: int
    group: str
    ingest: bool

    def usable_at(self, now: int) -> bool:
        """Whether the key may authenticate now: enabled (or exhausted: reading logs costs nothing), unexpired."""
        if self.status not in (KeyStatus.ENABLED, KeyStatus.EXHAUSTED):
            return False
        return self.expired_time == NEVER_EXPIRES or self.expired_time > now

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "name": self.name,
            "key": self.key_hint,
            "status": self.status,
            "created_time": self.created_at,
            "accessed_time": self.accessed_at,
            "expired_time": self.expired_time,
            "remain_quota": self.remain_quota,
            "unlimited_quota": self.unlimited_quota,
            "used_quota": self.used_quota,
            "group": self.group,
            "ingest": self.ingest,
        }
