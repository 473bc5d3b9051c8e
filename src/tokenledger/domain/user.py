"""Users, roles and statuses."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    COMMON = 1
    ADMIN = 10
    ROOT = 100


class UserStatus(IntEnum):
    ENABLED = 1
    DISABLED = 2


ROOT_USER_ID = 1
DEFAULT_GROUP = "default"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    role: int
    status: int
    email: str
    quota: int
    used_quota: int
    request_count: int
    group: str
    created_at: int
    password_hash: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role >= Role.ADMIN

    @property
    def is_root(self) -> bool:
        return self.role >= Role.ROOT

    @property
    def enabled(self) -> bool:
        return self.status == UserStatus.ENABLED

    def public(self) -> dict[str, object]:
        """The user as the API shows it: never the password hash or the access token."""
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "status": self.status,
            "email": self.email,
            "quota": self.quota,
            "used_quota": self.used_quota,
            "request_count": self.request_count,
            "group": self.group,
            "created_at": self.created_at,
        }
