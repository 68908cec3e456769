"""The audit log's hash chain (services/kit/audit.py) on a real database: concurrent writers keep one
gapless chain, a second writer process (a stale head hint) joins it, records written before the
chain existed are chained at start-up, and the verifier finds each way of tampering."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.faults.audit_tamper import TAMPERINGS
from services.casework import store
from services.kit import audit
from services.kit.audit_verify import KIT_TABLES, chain_legacy, verify, verify_database
from services.kit.db import Database
from services.kit.migrations import upgrade
from tests.support.eventually import eventually

KEY = audit.derive_key("test-secret")


async def _write(db: Database, chain: audit.AuditChain, n: int, batch: int = 1) -> None:
    async def one(i: int) -> None:
        async with db.begin() as conn:
            entries = [("read", "case", f"{i}-{k}") for k in range(batch)]
            await audit.record_many(conn, chain, actor=f"user{i % 3}", role="caseworker", entries=entries)
    await asyncio.gather(*(one(i) for i in range(n)))


async def _fresh(url: str) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(store.metadata.create_all)
    return db


async def _verified(db: Database, key: bytes = KEY):  # type: ignore[no-untyped-def]
    async with db.read() as conn:
        return await verify(conn, store.kit, key)


class TestConcurrentWritersKeepOneChain:
    async def test_concurrent_batches_make_a_gapless_chain_that_verifies(self, database_url: str) -> None:
        db = await _fresh(database_url)
        try:
            await _write(db, audit.AuditChain(store.kit, KEY), 30, batch=3)
            result = await _verified(db)
            assert result.ok, result.findings[:3]
            assert (result.records, result.head_seq) == (90, 90)
        finally:
            await db.dispose()

    async def test_two_writers_with_their_own_head_hints_interleave_without_a_break(self, database_url: str) -> None:
        db = await _fresh(database_url)
        try:
            first, second = audit.AuditChain(store.kit, KEY), audit.AuditChain(store.kit, KEY)
            for _ in range(3):
                await _write(db, first, 4)
                await _write(db, second, 4)
            result = await _verified(db)
            assert result.ok, result.findings[:3]
            assert result.records == 24
        finally:
            await db.dispose()

    async def test_a_rolled_back_batch_leaves_no_trace_and_the_next_one_links(self, tmp_path: Path) -> None:
        db = await _fresh(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
        chain = audit.AuditChain(store.kit, KEY)
        try:
            await _write(db, chain, 2)
            with pytest.raises(RuntimeError):
                async with db.begin() as conn:
                    await audit.record(conn, chain, actor="a", role="r", action="read", record_type="case", record_id="x")
                    raise RuntimeError("handler failed after auditing")
            await _write(db, chain, 2)
            result = await _verified(db)
            assert result.ok and result.records == 4
        finally:
            await db.dispose()

    async def test_a_different_key_does_not_verify(self, tmp_path: Path) -> None:
        db = await _fresh(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
        try:
            await _write(db, audit.AuditChain(store.kit, KEY), 2)
            result = await _verified(db, audit.derive_key("another secret"))
            assert [f.kind for f in result.findings] == ["changed", "changed"]
        finally:
            await db.dispose()


class TestARefusalStaysInTheLog:
    async def test_a_not_found_record_survives_the_error_that_rolls_back_its_transaction(self, database_url: str) -> None:
        db = await _fresh(database_url)
        chain = audit.AuditChain(store.kit, KEY)
        try:
            with pytest.raises(LookupError):
                async with db.begin() as conn:
                    await audit.record(conn, chain, actor="a", role="r", action="read", record_type="referral", record_id="x", outcome="ok")
                    await audit.record(conn, chain, actor="a", role="r", action="read", record_type="person_handover", record_id="y", outcome="not_found")
                    raise LookupError("no such referral")
            await _write(db, chain, 2)
            result = await _verified(db)
            assert result.ok and result.records == 3
            async with db.read() as conn:
                kept = (await conn.execute(sa.select(store.kit.audit.c.record_id, store.kit.audit.c.outcome).order_by(store.kit.audit.c.seq))).all()
            assert [tuple(k) for k in kept][0] == ("y", "not_found")
        finally:
            await db.dispose()


class TestRecordsFromBeforeTheChain:
    async def test_the_migration_and_the_start_up_chain_existing_records_and_nothing_later(self, tmp_path: Path) -> None:
        path = tmp_path / "casework.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(upgrade, "casework", url, "0004_referral_partner_answers")
        with sqlite3.connect(path) as raw:
            raw.executemany("INSERT INTO audit_log (at, actor, role, action, record_type, record_id, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [(f"2026-11-0{d} 10:00:00.000000", "caseworker", "caseworker", "read", "case", str(d), "ok") for d in range(1, 6)])
        await asyncio.to_thread(upgrade, "casework", url)
        db = Database(url)
        try:
            assert (await _verified(db)).pending_legacy == 5
            chain = audit.AuditChain(store.kit, KEY)
            assert await chain_legacy(db, chain) == 5
            await _write(db, chain, 3)
            with sqlite3.connect(path) as raw:  # written later without the chain: a finding, never chained at start-up
                raw.execute("INSERT INTO audit_log (at, actor, role, action, record_type, record_id, outcome) "
                            "VALUES ('2026-12-01 10:00:00.000000', 'x', 'r', 'read', 'case', '9', 'ok')")
            assert await chain_legacy(db, chain) == 0
            result = await _verified(db)
            assert result.records == 9 and result.pending_legacy == 0
            assert [f.kind for f in result.findings] == ["inserted"]
        finally:
            await db.dispose()


class TestTwoReplicasStartingTogether:
    async def test_records_from_before_the_chain_are_chained_once(self, database_url: str) -> None:
        """Replicas of a service (`ankommen up --replicas 2 --postgres`) chain the legacy records at the
        same start-up: the second, once it holds the head, finds nothing left to chain."""
        if not database_url.startswith("postgresql"):
            pytest.skip("replicas share a database on PostgreSQL only")
        await asyncio.to_thread(upgrade, "casework", database_url, "0004_referral_partner_answers")
        dbs = [Database(database_url), Database(database_url)]
        try:
            async with dbs[0].begin() as conn:
                await conn.execute(sa.text(
                    "INSERT INTO audit_log (at, actor, role, action, record_type, record_id, outcome) "
                    "SELECT now(), 'caseworker', 'caseworker', 'read', 'case', g::text, 'ok' FROM generate_series(1, 5) g"))
            await asyncio.to_thread(upgrade, "casework", database_url)
            holder = Database(database_url)
            try:  # the head is held while both start, so both reach it before either chains
                async with holder.begin() as conn:
                    await conn.execute(sa.text("SELECT seq FROM audit_chain WHERE id = 1 FOR UPDATE"))
                    starts = [asyncio.create_task(chain_legacy(db, audit.AuditChain(store.kit, KEY))) for db in dbs]

                    async def both_wait() -> None:
                        await conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))  # else the transaction's first snapshot again
                        waiting = await conn.execute(sa.text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"))
                        assert waiting.scalar_one() == 2

                    await eventually(both_wait, timeout=10)
                chained = await asyncio.gather(*starts)
            finally:
                await holder.dispose()
            assert sorted(chained) == [0, 5]
            result = await _verified(dbs[0])
            assert result.ok, result.findings[:3]
            assert (result.records, result.head_seq) == (5, 5)
        finally:
            for db in dbs:
                await db.dispose()


class TestEveryWayOfTamperingIsDetected:
    @pytest.mark.parametrize("way", sorted(TAMPERINGS))
    async def test_the_verifier_finds_it(self, tmp_path: Path, way: str) -> None:
        path = tmp_path / "casework.db"
        db = await _fresh(f"sqlite+aiosqlite:///{path}")
        try:
            await _write(db, audit.AuditChain(store.kit, KEY), 12, batch=2)
        finally:
            await db.dispose()
        assert (await verify_database(f"sqlite+aiosqlite:///{path}", KIT_TABLES, KEY)).ok
        with sqlite3.connect(path) as raw:
            TAMPERINGS[way](raw)
        result = await verify_database(f"sqlite+aiosqlite:///{path}", KIT_TABLES, KEY)
        assert result.findings, f"{way} not detected"
