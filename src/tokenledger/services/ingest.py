"""Ingest: usage records pushed by a gateway, validated whole and written in one transaction."""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from tokenledger.domain import log, timestamps
from tokenledger.domain.errors import Invalid
from tokenledger.domain.log import LogEntry, LogType
from tokenledger.domain.numbers import MAX_ID
from tokenledger.store import logs, users
from tokenledger.store.database import Database

MAX_RECORDS = 10_000
NonNegative = Field(0, ge=0, le=MAX_ID)


class LogRecord(BaseModel):
    """One pushed record, in the row shape of the log API. `id` and `channel_name` are accepted (so an
    exported row can be pushed back) and ignored; any other unknown field is an error."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    id: int | None = None
    channel_name: str | None = None
    user_id: int | None = Field(None, ge=1, le=MAX_ID)
    username: str | None = Field(None, min_length=1, max_length=log.MAX_USERNAME)
    created_at: int | None = Field(None, ge=0)
    type: int = Field(int(LogType.CONSUME), ge=1, le=max(LogType))
    content: str = Field("", max_length=log.MAX_CONTENT)
    token_name: str = Field("", max_length=log.MAX_TOKEN_NAME)
    model_name: str = Field("", max_length=log.MAX_MODEL_NAME)
    quota: int = NonNegative
    prompt_tokens: int = NonNegative
    completion_tokens: int = NonNegative
    use_time: int = Field(0, ge=0, le=2**31 - 1)
    is_stream: bool = False
    channel: int = Field(0, ge=0, le=MAX_ID, alias="channel_id")
    token_id: int = NonNegative
    group: str = Field("", max_length=log.MAX_GROUP)
    ip: str = Field("", max_length=log.MAX_IP)
    request_id: str = Field("", max_length=log.MAX_REQUEST_ID)
    upstream_request_id: str = Field("", max_length=log.MAX_REQUEST_ID)
    other: str | dict[str, Any] = ""

    @field_validator("other")
    @classmethod
    def _other_is_json_object(cls, value: str | dict[str, Any]) -> str:
        if isinstance(value, dict):
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        else:
            text = value
            if text:
                try:
                    parsed = pydantic_core.from_json(text)
                except ValueError:
                    raise ValueError("must be a JSON object (or a string holding one)") from None
                if not isinstance(parsed, dict):
                    raise ValueError("must be a JSON object (or a string holding one)")
        if len(text) > log.MAX_OTHER:
            raise ValueError(f"is too long: at most {log.MAX_OTHER} characters")
        return text


_RECORD_LIST = TypeAdapter(list[LogRecord])


def parse_body(body: bytes) -> list[dict[str, Any]]:
    """A JSON array of records, or NDJSON (one record per line). Raises Invalid naming the problem."""
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise Invalid("ingest body must be UTF-8 JSON") from None
    if not text:
        raise Invalid("ingest body is empty: send a JSON array of log records or NDJSON")
    if text.startswith("["):
        try:
            records: list[Any] = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise Invalid(f"ingest body is not valid JSON: {exc}") from None
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except (ValueError, RecursionError) as exc:
                raise Invalid(f"ingest body line {number} is not valid JSON: {exc}") from None
    if not records:
        raise Invalid("ingest body holds no records")
    if len(records) > MAX_RECORDS:
        raise Invalid(f"too many records in one batch: at most {MAX_RECORDS}, got {len(records)}")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise Invalid(f"record {index}: must be a JSON object")
    return records


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    return f"{where}: {message}"


def validate_records(raw: list[dict[str, Any]]) -> list[LogRecord]:
    records = []
    for index, item in enumerate(raw):
        try:
            records.append(LogRecord.model_validate(item))
        except ValidationError as exc:
            raise Invalid(f"record {index}: {_describe(exc)}") from None
    return records


def ingest(db: Database, body: bytes) -> int:
    """Validate every record, resolve users, and insert all rows atomically. Returns the count inserted.
    Nothing is written unless every record is valid."""
    entries = prepare(db, body)
    with db.write_logs() as log_conn:
        return logs.insert_logs(log_conn, entries)


def read_records(body: bytes) -> list[LogRecord]:
    """The records of a request body, validated. A well-formed JSON array is parsed and validated in one
    pass; anything else (NDJSON, or a body with a problem in it) goes record by record, which names the
    problem. Raises Invalid."""
    if body.lstrip()[:1] == b"[":
        try:
            records = _RECORD_LIST.validate_json(body)
        except ValidationError:
            pass
        else:
            if 0 < len(records) <= MAX_RECORDS:
                return records
    return validate_records(parse_body(body))


def prepare(db: Database, body: bytes) -> list[LogEntry]:
    """The log rows a request body asks for: every record validated and its user resolved. Raises Invalid
    naming the first bad record; writes nothing."""
    records = read_records(body)
    now = timestamps.now()
    with db.read() as conn:
        username_of = users.usernames_by_id(conn, {record.user_id for record in records if record.user_id is not None})
        id_of = users.ids_by_username(
            conn, {record.username for record in records if record.user_id is None and record.username is not None}
        )
    entries: list[LogEntry] = []
    for index, record in enumerate(records):
        if record.user_id is not None:
            user_id = record.user_id
            username = username_of.get(user_id)
            if username is None:
                raise Invalid(f"record {index}: user_id {user_id} does not exist")
            if record.username is not None and record.username != username:
                raise Invalid(f"record {index}: username {record.username!r} does not match user_id {user_id}")
        elif record.username is not None:
            username = record.username
            found = id_of.get(username)
            if found is None:
                raise Invalid(f"record {index}: username {username!r} does not exist")
            user_id = found
        else:
            raise Invalid(f"record {index}: user_id or username is required")
        created_at = now if record.created_at in (None, 0) else timestamps.normalize(record.created_at)
        if created_at > timestamps.MAX_SECONDS:
            raise Invalid(f"record {index}: created_at is past the year 9999")
        entries.append(
            LogEntry(
                id=0,
                user_id=user_id,
                created_at=created_at,
                type=record.type,
                content=record.content,
                username=username,
                token_name=record.token_name,
                model_name=record.model_name,
                quota=record.quota,
                prompt_tokens=record.prompt_tokens,
                completion_tokens=record.completion_tokens,
                use_time=record.use_time,
                is_stream=record.is_stream,
                channel=record.channel,
                token_id=record.token_id,
                group=record.group,
                ip=record.ip,
                request_id=record.request_id,
                upstream_request_id=record.upstream_request_id,
                other=str(record.other),
            )
        )
    return entries
