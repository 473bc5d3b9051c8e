"""Database URLs in every form an operator may paste: Python's, libpq's and New API's Go MySQL DSNs."""

from __future__ import annotations

import pytest

from tokenledger.domain.errors import Invalid
from tokenledger.store.dsn import normalize_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///./data/ledger.db", "sqlite:///./data/ledger.db"),
        ("sqlite:////var/lib/ledger.db", "sqlite:////var/lib/ledger.db"),
        ("postgresql://u:p@db:5432/ledger", "postgresql+psycopg://u:p@db:5432/ledger"),
        ("postgres://u:p@db:5432/ledger", "postgresql+psycopg://u:p@db:5432/ledger"),
        ("postgres://u:p@db/ledger?sslmode=require", "postgresql+psycopg://u:p@db/ledger?sslmode=require"),
        ("mysql://u:p@db:3306/ledger", "mysql+pymysql://u:p@db:3306/ledger?charset=utf8mb4"),
        ("mariadb://u:p@db/ledger", "mysql+pymysql://u:p@db/ledger?charset=utf8mb4"),
        (
            "root:123456@tcp(localhost:3306)/new-api",
            "mysql+pymysql://root:123456@localhost:3306/new-api?charset=utf8mb4",
        ),
        (
            "root:pw@tcp(10.0.0.5:3307)/oneapi?charset=utf8mb4&parseTime=True&loc=Local",
            "mysql+pymysql://root:pw@10.0.0.5:3307/oneapi?charset=utf8mb4",
        ),
        ("u:p@w@rd@tcp(db)/x", "mysql+pymysql://u:p%40w%40rd@db:3306/x?charset=utf8mb4"),
        ("u@tcp(db:3306)/x", "mysql+pymysql://u@db:3306/x?charset=utf8mb4"),
        ("u:p@/x", "mysql+pymysql://u:p@127.0.0.1:3306/x?charset=utf8mb4"),
        (
            "u:p@unix(/run/mysqld/mysqld.sock)/x",
            "mysql+pymysql://u:p@localhost:3306/x?charset=utf8mb4&unix_socket=%2Frun%2Fmysqld%2Fmysqld.sock",
        ),
        ("  postgres://u@db/x  ", "postgresql+psycopg://u@db/x"),
    ],
)
def test_accepted_forms(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "SQL_DSN is empty"),
        ("just words", "SQL_DSN is not a database URL or Go MySQL DSN"),
        ("oracle://scott:tiger@db/orcl", "SQL_DSN uses 'oracle'"),
        ("postgres://u:p@db:5432", "SQL_DSN names no database"),
        ("u:p@tcp(db:port)/x", "SQL_DSN has a port that is not a number"),
        ("u:secret@tcp(db:3306)", "SQL_DSN is not a database URL or Go MySQL DSN: 'u:***@tcp(db:3306)'"),
    ],
)
def test_rejected_forms_name_the_setting(given: str, message: str) -> None:
    with pytest.raises(Invalid) as raised:
        normalize_url(given)
    assert message in raised.value.message
    assert "secret" not in raised.value.message


def test_the_setting_named_is_the_one_at_fault() -> None:
    with pytest.raises(Invalid, match=r"^LOG_SQL_DSN is empty"):
        normalize_url(" ", "LOG_SQL_DSN")
