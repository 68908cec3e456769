"""Funding's statements on the discretionary fund's applications: measures, their receipts and drawdowns,
and the payment officer's work list (both funds)."""

from __future__ import annotations

import uuid
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.funding.domain import MeasureStatus
from services.funding.store import drawdowns, hardship, ledger, measures, receipts


async def get_measure(conn: AsyncConnection, application_id: uuid.UUID, *, lock: bool = False) -> sa.Row | None:
    q = sa.select(measures).where(measures.c.id == application_id)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return (await conn.execute(q)).first()




async def insert_measure(conn: AsyncConnection, **values: object) -> None:
    await conn.execute(measures.insert().values(**values))


async def measure_statuses(conn: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The status of each of these applications that exists."""
    rows = await conn.execute(sa.select(measures.c.id, measures.c.status).where(measures.c.id.in_(ids)))
    return {r.id: r.status for r in rows}


async def put_in_round(conn: AsyncConnection, ids: list[uuid.UUID], round_id: uuid.UUID) -> None:
    """The applications are collected for the round's first meeting."""
    await conn.execute(measures.update().where(measures.c.id.in_(ids)).values(status=MeasureStatus.IN_ROUND.value, round_id=round_id, meeting_no=1))


async def move_to_meeting(conn: AsyncConnection, ids: list[uuid.UUID], meeting_no: int) -> None:
    """Applications a meeting without quorum could not decide move to the next meeting."""
    await conn.execute(measures.update().where(measures.c.id.in_(ids)).values(meeting_no=meeting_no))


# --- the applicant portal -------------------------------------------------------------------------------


async def list_measures(conn: AsyncConnection, applicant: str | None = None) -> list[sa.Row]:
    """Every application, or one organisation's own (never another's)."""
    q = sa.select(measures).order_by(measures.c.applied_at)
    if applicant is not None:
        q = q.where(measures.c.applicant == applicant)
    return list((await conn.execute(q)).all())


async def update_measure(conn: AsyncConnection, application_id: uuid.UUID, **values: object) -> None:
    await conn.execute(measures.update().where(measures.c.id == application_id).values(**values))


async def receipts_of(conn: AsyncConnection, application_id: uuid.UUID) -> list[sa.Row]:
    cols = [c for c in receipts.c if c.name != "content"]
    return list((await conn.execute(sa.select(*cols).where(receipts.c.application_id == application_id).order_by(receipts.c.uploaded_at))).all())


async def receipts_total(conn: AsyncConnection, application_id: uuid.UUID) -> int:
    q = sa.select(sa.func.coalesce(sa.func.sum(receipts.c.size_bytes), 0)).where(receipts.c.application_id == application_id)
    return int((await conn.execute(q)).scalar_one())


async def receipt_by_hash(conn: AsyncConnection, application_id: uuid.UUID, sha256: str) -> sa.Row | None:
    cols = [c for c in receipts.c if c.name != "content"]
    return (await conn.execute(sa.select(*cols).where(receipts.c.application_id == application_id, receipts.c.sha256 == sha256))).first()


async def insert_receipt(conn: AsyncConnection, **values: object) -> None:
    await conn.execute(receipts.insert().values(**values))


async def get_receipt(conn: AsyncConnection, application_id: uuid.UUID, receipt_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(receipts).where(receipts.c.id == receipt_id, receipts.c.application_id == application_id))).first()


async def attach_receipts(conn: AsyncConnection, application_id: uuid.UUID, receipt_ids: list[uuid.UUID], version: int) -> None:
    """Receipts first submitted with this version of the proof of use keep that version."""
    await conn.execute(receipts.update().where(
        receipts.c.application_id == application_id, receipts.c.id.in_(receipt_ids), receipts.c.proof_version.is_(None)).values(proof_version=version))


async def count_receipts(conn: AsyncConnection, application_id: uuid.UUID) -> int:
    return int((await conn.execute(sa.select(sa.func.count()).select_from(receipts).where(receipts.c.application_id == application_id))).scalar_one())


async def drawdowns_of(conn: AsyncConnection, application_id: uuid.UUID) -> list[sa.Row]:
    return list((await conn.execute(sa.select(drawdowns).where(drawdowns.c.application_id == application_id).order_by(drawdowns.c.requested_at))).all())


async def drawn_cents(conn: AsyncConnection, application_id: uuid.UUID) -> int:
    """Every drawdown requested or paid so far."""
    q = sa.select(sa.func.coalesce(sa.func.sum(drawdowns.c.amount_cents), 0)).where(drawdowns.c.application_id == application_id)
    return int((await conn.execute(q)).scalar_one())


async def insert_drawdown(conn: AsyncConnection, **values: object) -> None:
    await conn.execute(drawdowns.insert().values(**values))


async def get_drawdown(conn: AsyncConnection, application_id: uuid.UUID, drawdown_id: uuid.UUID) -> sa.Row | None:
    return (await conn.execute(sa.select(drawdowns).where(drawdowns.c.id == drawdown_id, drawdowns.c.application_id == application_id))).first()


async def mark_drawdown_paid(conn: AsyncConnection, drawdown_id: uuid.UUID, by: str, at: object) -> bool:
    """Only a requested drawdown is paid (once): False if it was paid already."""
    requested = sa.and_(drawdowns.c.id == drawdown_id, drawdowns.c.status == "requested")
    result = await conn.execute(drawdowns.update().where(requested).values(status="paid", paid_by=by, paid_at=at))
    return result.rowcount == 1


async def open_drawdowns(conn: AsyncConnection) -> list[sa.Row]:
    q = (sa.select(drawdowns, measures.c.title, measures.c.provider, measures.c.fiscal_year)
         .join(measures, measures.c.id == drawdowns.c.application_id).where(drawdowns.c.status == "requested").order_by(drawdowns.c.requested_at))
    return list((await conn.execute(q)).all())


async def paid_drawdowns(conn: AsyncConnection, limit: int) -> list[sa.Row]:
    q = (sa.select(drawdowns, measures.c.title, measures.c.provider, measures.c.fiscal_year)
         .join(measures, measures.c.id == drawdowns.c.application_id).where(drawdowns.c.status == "paid")
         .order_by(drawdowns.c.paid_at.desc()).limit(limit))
    return list((await conn.execute(q)).all())


# --- the payment officer's work list -------------------------------------------------------------------

PAID_OUT = (MeasureStatus.PAID, MeasureStatus.PROOF_RECEIVED, MeasureStatus.PROOF_SUBMITTED, MeasureStatus.REWORK_REQUESTED,
            MeasureStatus.PROOF_ACCEPTED, MeasureStatus.SETTLED)


def _paid() -> sa.Subquery:
    """Per application: when and by whom its (last) disbursement was recorded."""
    return (
        sa.select(ledger.c.application_id, sa.func.max(ledger.c.at).label("at"), sa.func.max(ledger.c.recorded_by).label("by"))
        .where(ledger.c.kind == "disbursement").group_by(ledger.c.application_id).subquery()
    )


async def hardship_payments(conn: AsyncConnection, state: Literal["open", "done"], limit: int) -> list[sa.Row]:
    """Hardship grants whose payment was ordered (open), or paid out, newest first (done); with paid_at/paid_by."""
    paid = _paid()
    q = sa.select(hardship, paid.c.at.label("paid_at"), paid.c.by.label("paid_by")).outerjoin(paid, paid.c.application_id == hardship.c.id)
    if state == "open":
        q = q.where(hardship.c.status == "payment_ordered").order_by(hardship.c.decided_at)
    else:
        q = q.where(hardship.c.status == "disbursed").order_by(paid.c.at.desc()).limit(limit)
    return list((await conn.execute(q)).all())


async def measure_payments(conn: AsyncConnection, state: Literal["open", "done"], limit: int) -> list[sa.Row]:
    """Approved measures paid out at once (no drawdowns): to pay (open), or paid, newest first (done)."""
    paid = _paid()
    q = sa.select(measures, paid.c.at.label("paid_at"), paid.c.by.label("paid_by")).outerjoin(paid, paid.c.application_id == measures.c.id)
    q = q.where(measures.c.drawdowns_requested.is_(False))
    if state == "open":
        q = q.where(measures.c.status == MeasureStatus.APPROVED.value).order_by(measures.c.applied_at)
    else:
        q = q.where(measures.c.status.in_([s.value for s in PAID_OUT])).order_by(paid.c.at.desc()).limit(limit)
    return list((await conn.execute(q)).all())
