"""Rows to records in one place: callers of the store see pydantic models, never rows."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

M = TypeVar("M", bound=BaseModel)


def to_model(model: type[M], row: Row[Any]) -> M:
    """The row validated as ``model`` (column names are the model's field names)."""
    return model.model_validate(dict(row._mapping))


async def fetch_one(conn: AsyncConnection, query: Executable, model: type[M]) -> M | None:
    """The first row of ``query`` as ``model``, or None."""
    row = (await conn.execute(query)).first()
    return to_model(model, row) if row is not None else None


async def fetch_all(conn: AsyncConnection, query: Executable, model: type[M]) -> list[M]:
    """Every row of ``query`` as ``model``, in the query's order."""
    return [to_model(model, row) for row in (await conn.execute(query)).all()]
