"""Redshift-dialect SQL → PostgreSQL, for the local stand-in.

sqlglot parses Redshift and writes PostgreSQL once the Redshift-only physical design is
removed from the tree: DISTSTYLE / DISTKEY / SORTKEY table properties and ENCODE column
constraints (FINDINGS.md). SUPER (semi-structured) becomes jsonb. Everything else (types,
GETDATE(), DATEADD, '::' casts) sqlglot translates itself.
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp

_REDSHIFT_ONLY = (
    exp.DistKeyProperty,
    exp.DistStyleProperty,
    exp.SortKeyProperty,
    exp.EncodeColumnConstraint,
)


def _to_postgres_node(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, _REDSHIFT_ONLY):
        return None
    if isinstance(node, exp.ColumnConstraint) and isinstance(
        node.args.get("kind"), exp.EncodeColumnConstraint
    ):
        return None
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.SUPER:
        return exp.DataType.build("jsonb")
    return node


def split_statements(sql: str) -> list[str]:
    """Statements of a SQL script, comments removed; `;` inside quotes does not split."""
    out, buf, i, n = [], [], 0, len(sql)
    quote: str | None = None
    while i < n:
        c = sql[i]
        if quote:
            buf.append(c)
            if c == quote:
                quote = None
        elif c in ("'", '"'):
            quote = c
            buf.append(c)
        elif sql.startswith("--", i):
            while i < n and sql[i] != "\n":
                i += 1
            continue
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif c == ";":
            stmt = "".join(buf).strip()
            if stmt:
                out.append(stmt)
            buf = []
        else:
            buf.append(c)
        i += 1
    stmt = "".join(buf).strip()
    if stmt:
        out.append(stmt)
    return out


@lru_cache(maxsize=256)
def redshift_to_postgres(statement: str) -> str:
    """One Redshift statement as PostgreSQL (`%s` parameters pass through unchanged)."""
    # sqlglot would read %s as the modulo operator: protect the placeholders.
    marked = statement.replace("%s", "__param__")
    tree = sqlglot.parse_one(marked, read="redshift")
    out = tree.transform(_to_postgres_node).sql(dialect="postgres")
    return out.replace("__param__", "%s")


def for_dialect(statement: str, dialect: str) -> str:
    """A Redshift-dialect statement as the server `dialect` (redshift | postgres) needs it."""
    if dialect == "redshift":
        return statement
    if dialect == "postgres":
        return redshift_to_postgres(statement)
    raise ValueError(f"unknown SQL dialect {dialect!r}")
