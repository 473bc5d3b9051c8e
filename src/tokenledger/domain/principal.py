"""Who is calling, and with which credential."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tokenledger.domain.apikey import ApiKey
from tokenledger.domain.user import User


class Credential(Enum):
    SESSION = "session"
    ACCESS_TOKEN = "access_token"
    API_KEY = "api_key"


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    credential: Credential
    api_key: ApiKey | None = None

    @property
    def via_api_key(self) -> bool:
        return self.credential is Credential.API_KEY
