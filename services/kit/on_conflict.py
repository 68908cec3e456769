"""INSERT ... ON CONFLICT on SQLite and PostgreSQL (`upsert`, `insert_ignoring_conflicts`), compiled once
per statement shape.

SQLAlchemy's dialect inserts with ON CONFLICT have no cache key (`inherit_cache = False` in 2.0), so
each one was compiled anew on every execute: a third of a projection consumer's database time. The
statement is the same text on SQLite and PostgreSQL, so it is built once per shape as a `text()` whose
bind parameters carry the columns' types (UUIDs, UTC datetimes and JSON convert as through the table);
SQLAlchemy caches its compiled form. A value that is an SQL expression, or a column with a Python-side
default left out, goes through SQLAlchemy's construct as before.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


@functools.lru_cache(maxsize=1024)
def _on_conflict_statement(
    dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...], keys: tuple[str, ...], update: tuple[str, ...], increment: tuple[str, ...],
) -> sa.TextClause:
    q = dialect.identifier_preparer
    name = q.format_table(table)
    sets = [f"{q.quote(c)} = excluded.{q.quote(c)}" for c in update]
    sets += [f"{q.quote(c)} = {name}.{q.quote(c)} + :{_BY}{c}" for c in increment]
    action = f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"
    sql = (f"INSERT INTO {name} ({', '.join(q.quote(c) for c in columns)}) VALUES ({', '.join(f':{c}' for c in columns)}) "
           f"ON CONFLICT ({', '.join(q.quote(k) for k in keys)}) {action}")
    binds = [sa.bindparam(c, type_=table.c[c].type) for c in columns] + [sa.bindparam(f"{_BY}{c}", type_=table.c[c].type) for c in increment]
    return sa.text(sql).bindparams(*binds)


_BY = "by_"  # the bind parameter of an increment: `events = t.events + :by_events`


@functools.lru_cache(maxsize=1024)
def _defaults_left_out(table: sa.Table, columns: tuple[str, ...]) -> bool:
    """A column not among `columns` has a Python-side default or onupdate for SQLAlchemy to fill in
    (the table's columns are looked at once per shape, not on every upsert)."""
    return any(c.name not in columns and (c.default is not None or c.onupdate is not None) for c in table.c)


def _plain(table: sa.Table, columns: tuple[str, ...], values: list[dict]) -> bool:
    """True if the cached text says what SQLAlchemy's insert would: only plain values (no SQL expressions),
    and no Python-side column default or onupdate left for SQLAlchemy to fill in."""
    if _defaults_left_out(table, columns):
        return False
    return not any(isinstance(v, sa.ClauseElement) for row in values for v in row.values())


def _dialect_insert(conn: AsyncConnection, table: sa.Table):  # type: ignore[no-untyped-def]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


async def insert_ignoring_conflicts(conn: AsyncConnection, table: sa.Table, keys: list[str], rows: list[dict]) -> None:
    """INSERT ... ON CONFLICT (keys) DO NOTHING of `rows` (each with the same columns) on SQLite and PostgreSQL."""
    if not rows:
        return
    columns = tuple(rows[0])
    if _plain(table, columns, rows):
        await conn.execute(_on_conflict_statement(conn.dialect, table, columns, tuple(keys), (), ()), rows)
    else:
        await conn.execute(_dialect_insert(conn, table).on_conflict_do_nothing(index_elements=keys), rows)


async def upsert(
    conn: AsyncConnection, table: sa.Table, values: dict, *, keys: list[str], increment: dict[str, int] | None = None, only_insert: bool = False,
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE on SQLite and PostgreSQL; `increment` adds to columns
    instead of overwriting them (a concurrency-safe counter); `only_insert` keeps an existing row."""
    increment = increment or {}
    columns = tuple(values)
    if _plain(table, columns, [values]):
        update = () if only_insert else tuple(c for c in columns if c not in keys and c not in increment)
        adds = tuple(increment)
        params = {**values, **{f"{_BY}{c}": by for c, by in increment.items()}} if adds else values
        await conn.execute(_on_conflict_statement(conn.dialect, table, columns, tuple(keys), update, adds), params)
        return
    stmt = _dialect_insert(conn, table).values(**values)
    changes = {} if only_insert else {k: v for k, v in values.items() if k not in keys and k not in increment}
    for column, by in increment.items():
        changes[column] = table.c[column] + by
    await conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes) if changes else stmt.on_conflict_do_nothing(index_elements=keys))
