"""The projections (DOMAIN.md flow 7: reports hold aggregates of events only): every contract event
becomes a fact row and updates the case and arrival projections and the watermark, in the same
transaction as its inbox record, so a redelivery changes nothing. The same `project_batch` runs live
(in a group commit, group_commit.py) and for `ankommen reporting rebuild` (rebuild.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts import Event
from services.reporting import store_projections
from services.reporting.domain import fact_of

#: Inbox consumer name of the projections (one for every stream; event ids are unique).
PROJECTION_CONSUMER = "reporting:project"


async def project(conn: AsyncConnection, event: Event, tz: str) -> None:
    await project_batch(conn, [event], tz)


async def project_batch(conn: AsyncConnection, events: list[Event], tz: str) -> None:
    """Applies events in order: facts in one multi-row insert, case and arrival projections per event,
    the watermark once per stream. Live consumption passes one event, a rebuild thousands."""
    if not events:
        return
    await store_projections.insert_facts(conn, [fact_of(e, tz) for e in events])
    marks: dict[str, tuple[int, datetime]] = {}
    for event in events:
        await _project_entities(conn, event)
        count, last = marks.get(event.stream, (0, event.occurred_at))
        marks[event.stream] = (count + 1, max(last, event.occurred_at))
    for stream, (count, last) in marks.items():
        await store_projections.advance_watermark(conn, stream, count, last)


async def _project_entities(conn: AsyncConnection, event: Event) -> None:
    """The case and arrival projections; a goal moved to another field of action (casework's goal
    adjustment) is counted in its current field, whatever order its revisions arrive in."""
    e: Any = event  # the fields read below are those of the event type just matched
    name = event.event_type
    if name == "CaseOpened":
        await store_projections.upsert_case(conn, {
            "case_id": str(e.case_id), "programme": e.programme, "district": e.district, "members": len(e.member_ids), "opened_at": e.occurred_at,
        })
    elif name == "CaseClosed":
        await store_projections.upsert_case(conn, {
            "case_id": str(e.case_id), "programme": e.programme, "district": e.district, "closed_at": e.occurred_at,
        })
    elif name == "ArrivalRecorded":
        await store_projections.upsert_arrival(conn, {
            "record_id": e.record_id, "month": e.month, "district": e.district, "nationality": e.nationality,
            "residence_status": str(e.residence_status), "sex": str(e.sex), "age_group": str(e.age_group),
        })
    elif name == "GoalSet":
        await store_projections.goal_follows_latest_field(conn, str(e.case_id), str(e.goal_id))
    elif name == "ArrivalRetracted":
        await store_projections.upsert_arrival(conn, {"record_id": e.record_id, "retracted": True})


async def reset_projections(conn: AsyncConnection) -> None:
    """Empties the projections and forgets which events they applied (before a rebuild)."""
    await store_projections.reset_projections(conn, PROJECTION_CONSUMER)
