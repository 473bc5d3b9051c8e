"""Database URLs: the forms operators write, mapped onto the drivers tokenledger ships.

Accepted, so that a New API operator can reuse `SQL_DSN` / `LOG_SQL_DSN` unchanged:

- `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, `sqlite:///:memory:`
- `postgresql://user:pass@host:5432/db`, `postgres://…` (libpq's and New API's spelling), `postgresql+psycopg://…`
- `mysql://user:pass@host:3306/db`, `mariadb://…`, `mysql+pymysql://…`
- Go-style MySQL DSNs as New API reads them: `user:pass@tcp(host:3306)/db?parseTime=true`,
  `user:pass@unix(/run/mysqld/mysqld.sock)/db`, `user@/db` (localhost:3306)
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from tokenledger.domain.errors import Invalid

POSTGRES_DRIVER = "postgresql+psycopg"
MYSQL_DRIVER = "mysql+pymysql"

_SCHEME_DRIVERS = {
    "postgres": POSTGRES_DRIVER,
    "postgresql": POSTGRES_DRIVER,
    "postgresql+psycopg": POSTGRES_DRIVER,
    "mysql": MYSQL_DRIVER,
    "mariadb": MYSQL_DRIVER,
    "mysql+pymysql": MYSQL_DRIVER,
    "mariadb+pymysql": MYSQL_DRIVER,
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
}

# user[:password]@protocol(address)/dbname[?params]: the go-sql-driver/mysql format.
_GO_MYSQL_DSN = re.compile(
    r"^(?:(?P<user>[^:@]*)(?::(?P<password>.*))?@)?"
    r"(?:(?P<protocol>tcp|unix)(?:\((?P<address>[^)]*)\))?)?"
    r"/(?P<database>[^?]*)(?:\?(?P<params>.*))?$"
)
# Parameters of the Go driver that mean something to PyMySQL too; the rest (parseTime, loc, …) concern Go.
_GO_PARAMS_KEPT = {"charset"}

EXAMPLES = "sqlite:///./data/tokenledger.db, postgresql://user:pass@host:5432/db or user:pass@tcp(host:3306)/db"


def _from_go_mysql(dsn: str, setting: str) -> URL:
    match = _GO_MYSQL_DSN.match(dsn)
    if match is None or not match["database"]:
        shown = _hide_password(dsn)
        raise Invalid(f"{setting} is not a database URL or Go MySQL DSN: {shown!r} (examples: {EXAMPLES})")
    query: dict[str, str] = {}
    host, port = "127.0.0.1", 3306
    address = match["address"] or ""
    if match["protocol"] == "unix":
        query["unix_socket"] = address
        host = "localhost"
    elif address:
        host, _, port_text = address.rpartition(":") if ":" in address else (address, "", "")
        if port_text:
            if not port_text.isdigit():
                raise Invalid(f"{setting} has a port that is not a number: {port_text!r}")
            port = int(port_text)
    for name, value in parse_qsl(match["params"] or ""):
        if name in _GO_PARAMS_KEPT:
            query[name] = value
    return URL.create(
        MYSQL_DRIVER,
        username=match["user"] or None,
        password=match["password"],
        host=host,
        port=port,
        database=match["database"],
        query=query,
    )


def _hide_password(dsn: str) -> str:
    return re.sub(r"^([^:@/]*):[^@]*@", r"\1:***@", dsn)


def normalize_url(dsn: str, setting: str = "SQL_DSN") -> str:
    """The SQLAlchemy URL (with the driver named) for a DSN in any accepted form. Raises Invalid, naming
    `setting`, for anything else."""
    dsn = dsn.strip()
    if not dsn:
        raise Invalid(f"{setting} is empty (examples: {EXAMPLES})")
    if "://" not in dsn:
        url = _from_go_mysql(dsn, setting)
    else:
        try:
            url = make_url(dsn)
        except ArgumentError:
            raise Invalid(f"{setting} is not a database URL: {_hide_password(dsn)!r} (examples: {EXAMPLES})") from None
    driver = _SCHEME_DRIVERS.get(url.drivername)
    if driver is None:
        supported = "sqlite, postgresql (postgres) and mysql (mariadb)"
        raise Invalid(f"{setting} uses {url.drivername!r}: tokenledger supports {supported}")
    url = url.set(drivername=driver)
    if driver == MYSQL_DRIVER:
        url = url.update_query_dict({"charset": "utf8mb4"})
    if driver != "sqlite" and not url.database:
        raise Invalid(f"{setting} names no database: add one, as in {driver.split('+')[0]}://user:pass@host/dbname")
    return url.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def backend_of(url: str) -> str:
    """`sqlite`, `postgresql` or `mysql`."""
    return make_url(url).get_backend_name()
