"""Redshift-dialect SQL → PostgreSQL, for the local stand-in.

sqlglot parses Redshift and writes PostgreSQL once the Redshift-only physical design is
removed from the tree: DISTSTYLE / DISTKEY / SORTKEY table properties and ENCODE column
constraints (FINDINGS.md). SUPER (semi-structured) becomes jsonb. Everything else (types,
GETDATE(), DATEADD, '::' casts) sqlglot translates itself.

One piece of the physical design is carried over instead of dropped: a table without a
primary key whose sort key leads with a NOT NULL TIMESTAMP column (the time-series fact
table) becomes `PARTITION BY RANGE (<that column>)` on PostgreSQL. Redshift skips blocks
outside a time range with the sort key's zone maps and spreads a wallet's rows over slices;
PostgreSQL gets the same pruning from time partitions, and, more important for loading,
each partition's own (wallet_id, event_time) btree stays small enough to stay in memory
while rows arrive in time order (one big wallet-ordered btree takes random inserts all
over and slowed the loader ten-fold past a few million rows). `pipeline/warehouse/
partitions.py` creates the day partitions; 0008_local_partitions.local.sql the default one.
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


def time_partition_column(tree: exp.Expression) -> str | None:
    """The column a Redshift CREATE TABLE is range-partitioned by on PostgreSQL, if any.

    The leading sort-key column when it is a NOT NULL TIMESTAMP and the table has no
    primary key (PostgreSQL requires the partition column in every unique key).
    """
    if not isinstance(tree, exp.Create) or tree.args.get("kind") != "TABLE":
        return None
    schema = tree.this
    if not isinstance(schema, exp.Schema):
        return None
    sort = next(tree.find_all(exp.SortKeyProperty), None)
    if sort is None or not sort.this:
        return None
    lead = sort.this[0].name
    if any(isinstance(e, exp.PrimaryKey) for e in schema.expressions):
        return None
    for col in schema.expressions:
        if not isinstance(col, exp.ColumnDef):
            continue
        kinds = [type(c.args.get("kind")) for c in col.constraints]
        if exp.PrimaryKeyColumnConstraint in kinds:
            return None
        if col.name == lead:
            is_time = col.args.get("kind") is not None and col.args["kind"].this in (
                exp.DataType.Type.TIMESTAMP,
                exp.DataType.Type.DATETIME,
            )
            if not (is_time and exp.NotNullColumnConstraint in kinds):
                return None
    return lead


@lru_cache(maxsize=256)
def redshift_to_postgres(statement: str) -> str:
    """One Redshift statement as PostgreSQL (`%s` parameters pass through unchanged)."""
    # sqlglot would read %s as the modulo operator: protect the placeholders.
    marked = statement.replace("%s", "__param__")
    tree = sqlglot.parse_one(marked, read="redshift")
    partition_by = time_partition_column(tree)
    out = tree.transform(_to_postgres_node).sql(dialect="postgres")
    if partition_by:
        out += f" PARTITION BY RANGE ({partition_by})"
    return out.replace("__param__", "%s")


def for_dialect(statement: str, dialect: str) -> str:
    """A Redshift-dialect statement as the server `dialect` (redshift | postgres) needs it."""
    if dialect == "redshift":
        return statement
    if dialect == "postgres":
        return redshift_to_postgres(statement)
    raise ValueError(f"unknown SQL dialect {dialect!r}")
