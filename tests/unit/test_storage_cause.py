"""Which database errors mean "cannot write now" (503, retried, never dead-lettered): SQLite's locked and
full, asyncpg's disk full and lost or refused connections; nothing else."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
import sqlalchemy as sa

from services.kit.db import storage_cause


def wrapped(orig: BaseException) -> sa.exc.DBAPIError:
    """As SQLAlchemy raises a driver error: a DBAPIError whose `orig` (and cause) is the driver's."""
    try:
        raise sa.exc.OperationalError("INSERT ...", {}, orig) from orig  # type: ignore[arg-type]
    except sa.exc.DBAPIError as exc:
        return exc


class TestStorageCause:
    @pytest.mark.parametrize(
        ("error", "cause"),
        [
            (sqlite3.OperationalError("database is locked"), "locked"),
            (sqlite3.OperationalError("database or disk is full"), "disk_full"),
            (asyncpg.exceptions.DiskFullError("could not extend file: No space left on device"), "disk_full"),
            (asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout"), "locked"),
            (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), "unreachable"),
            (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), "unreachable"),
            (ConnectionResetError(104, "Connection reset by peer"), "unreachable"),
        ],
    )
    def test_driver_errors_under_sqlalchemy(self, error: BaseException, cause: str) -> None:
        assert storage_cause(wrapped(error)) == cause

    def test_a_refused_connection_while_connecting(self) -> None:
        assert storage_cause(ConnectionRefusedError(111, "Connect call failed"), connecting=True) == "unreachable"

    @pytest.mark.parametrize(
        "error",
        [
            ConnectionRefusedError(111, "Connect call failed"),  # raised by the transaction's own code, not the database
            OSError(28, "No space left on device"),
            wrapped(sqlite3.IntegrityError("UNIQUE constraint failed: inbox.event_id")),
            wrapped(sqlite3.OperationalError("no such table: persons")),
            ValueError("database is locked"),
        ],
    )
    def test_other_errors_are_not_storage_errors(self, error: BaseException) -> None:
        assert storage_cause(error) is None
