"""Upstream channels: where a gateway sent a request. Logs refer to them by id."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ChannelStatus(IntEnum):
    ENABLED = 1
    MANUALLY_DISABLED = 2
    AUTO_DISABLED = 3


@dataclass(frozen=True, slots=True)
class Channel:
    id: int
    name: str
    type: int
    base_url: str
    key_hint: str
    models: str
    group: str
    status: int
    created_at: int

    def public(self) -> dict[str, object]:
        """The channel as admins see it; the upstream key only masked."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "base_url": self.base_url,
            "key": self.key_hint,
            "models": self.models,
            "group": self.group,
            "status": self.status,
            "created_time": self.created_at,
        }
