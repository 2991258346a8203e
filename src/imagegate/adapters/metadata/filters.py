"""Metadata filters as SQL, the same meaning on SQLite and PostgreSQL.

JSON values are typed (string, number, boolean); typed operators (``eq:string``,
``in:number``, the numeric ranges...) match only that type, and untyped ``eq``/``in`` match a
value that equals the given text as a string, or its number, or its boolean. Casts sit inside
``CASE`` on the type, so PostgreSQL never casts a string.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from imagegate.core.listing import MetaFilter, untyped_candidates

# What each backend's JSON type function answers, in one vocabulary.
_SQLITE_TYPES = {"text": "string", "integer": "number", "real": "number", "true": "boolean",
                 "false": "boolean"}  # fmt: skip


def meta_condition(column: Any, f: MetaFilter, dialect: str) -> sa.ColumnElement[bool]:
    element = column[f.path]
    kind = _json_kind(column, f.path, dialect)
    as_number = sa.case((kind == "number", element.as_float()), else_=None)
    as_bool = sa.case((kind == "boolean", element.as_boolean()), else_=None)
    as_text = sa.case((kind == "string", element.as_string()), else_=None)
    if f.op in ("eq:string", "in:string"):
        return sa.or_(*(as_text == value for value in f.values))
    if f.op in ("eq:number", "in:number"):
        return sa.or_(*(as_number == value for value in f.values))
    if f.op == "eq:boolean":
        return as_bool == f.values[0]
    if f.op in ("gt", "gte", "lt", "lte"):
        value = f.values[0]
        return {
            "gt": as_number > value,
            "gte": as_number >= value,
            "lt": as_number < value,
            "lte": as_number <= value,
        }[f.op]
    clauses = []
    for raw in f.values:  # eq and in: any type
        text, number, boolean = untyped_candidates(str(raw))
        clauses.append(as_text == text)
        if number is not None:
            clauses.append(as_number == number)
        if boolean is not None:
            clauses.append(as_bool == boolean)
    return sa.or_(*clauses)


def _json_kind(column: Any, path: tuple[str, ...], dialect: str) -> sa.ColumnElement[str]:
    if dialect == "postgresql":
        return sa.func.jsonb_typeof(column[path])
    raw = sa.func.json_type(column, "$." + ".".join(path))
    return sa.case(*((raw == k, v) for k, v in _SQLITE_TYPES.items()), else_=raw)
