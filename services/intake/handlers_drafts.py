"""The front desk's intake drafts (DOMAIN.md flow 1): an unfinished intake interview saved, listed,
resumed and completed as an intake. Drafts hold personal data too: sealed under a data key of their own,
dropped on completion."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from services.intake import store, store_drafts
from services.intake.crypto import KeyUnavailable
from services.intake.domain import draft_display, draft_problems
from services.intake.handlers import WRITE_ROLES, complete_intake
from services.intake.runtime import IntakeRuntime
from services.intake.schemas import DraftList, DraftOut, DraftSummary, IntakeCreated, IntakeIn
from services.kit.auth import Principal
from services.kit.db import utc_now
from services.kit.errors import Conflict, Invalid, NotFound


async def save_draft(rt: IntakeRuntime, principal: Principal, draft_id: uuid.UUID | None, content: dict) -> DraftOut:
    """Drafts hold personal data too: sealed under a data key of their own, dropped on completion. A
    draft may be incomplete, but what it holds must be valid (domain.draft_problems): 422 naming every
    wrong field, and nothing saved."""
    problems = draft_problems(content)
    if problems:
        raise Invalid(problems[0][1], field=".".join(str(x) for x in problems[0][0]),
                      errors=[(".".join(str(x) for x in loc), msg) for loc, msg, _ in problems])
    now = utc_now()
    ring = rt.keyring
    async with rt.db.begin() as conn:
        if draft_id is None:
            draft_id = uuid.uuid4()
            key, wrapped = ring.new_data_key()
            await store.put_key(conn, draft_id, wrapped, now)
            await store_drafts.insert_draft(conn, draft_id, ring.seal(key, draft_id, content), principal.username, now)
        else:
            row = await store_drafts.draft(conn, draft_id)
            if row is None:
                raise NotFound("no such draft")
            if row.completed_intake_id is not None:
                raise Conflict("the draft was completed already")
            wrapped = (await store.wrapped_keys(conn, [draft_id])).get(draft_id)
            await store_drafts.update_draft(conn, draft_id, ring.seal(ring.unwrap(wrapped), draft_id, content), now)
        await rt.audit(conn, principal, WRITE_ROLES, "write", "intake_draft", draft_id)
    return DraftOut(draft_id=draft_id, content=content, updated_at=now)


async def load_draft(rt: IntakeRuntime, principal: Principal, draft_id: uuid.UUID) -> DraftOut:
    async with rt.db.begin() as conn:
        row = await store_drafts.draft(conn, draft_id)
        await rt.audit(conn, principal, WRITE_ROLES, "read", "intake_draft", draft_id, "ok" if row else "not_found")
        if row is None:
            raise NotFound("no such draft")
        content: dict = {}
        if row.sealed is not None:
            ring = rt.keyring
            wrapped = (await store.wrapped_keys(conn, [draft_id])).get(draft_id)
            try:
                content = ring.open(ring.unwrap(wrapped), draft_id, row.sealed)
            except KeyUnavailable as exc:
                raise Conflict("the draft's data was erased; it cannot be resumed") from exc
    return DraftOut(draft_id=draft_id, content=content, updated_at=row.updated_at, completed_intake_id=row.completed_intake_id)


async def list_drafts(
    rt: IntakeRuntime, principal: Principal, *, mine_only: bool, state: str, updated_since: datetime | None, limit: int, offset: int
) -> DraftList:
    """The front desk's list of intake drafts, newest first. A team shares the counter: a household that
    comes back the next day meets another clerk, so every front-desk clerk sees (and may resume and
    complete) the colleagues' drafts (`mine_only=False`).

    Audit: like `load_draft`, one audit record per draft whose content was decrypted for the list
    (action "list", record type "intake_draft", the draft's id), written in the transaction that reads
    it. Per draft rather than one record per listing, because the audit log answers "who saw this
    household's data" by record id (SGB X §67 ff.; DOMAIN.md "Data protection"); a listing record
    would not name the drafts whose names were shown. Completed drafts (content dropped) and drafts whose
    key was erased show no personal data and are not audit-logged. A draft whose data key was erased
    (crypto-shredding) is listed without names (`readable=False`) instead of failing the list."""
    ring = rt.keyring
    async with rt.db.begin() as conn:
        rows, total = await store_drafts.drafts_page(
            conn, created_by=principal.username if mine_only else None, state=state, updated_since=updated_since, limit=limit, offset=offset
        )
        keys = await store.wrapped_keys(conn, [r.id for r in rows if r.sealed is not None])
        out: list[DraftSummary] = []
        for r in rows:
            summary = DraftSummary(
                draft_id=r.id, created_by=r.created_by, created_at=r.created_at or r.updated_at, updated_at=r.updated_at,
                completed_intake_id=r.completed_intake_id, household_id=r.household_id, completed_by=r.completed_by,
            )
            if r.completed_intake_id is not None:
                summary.person_count, summary.district = r.person_count, r.district
            elif r.sealed is not None:
                try:
                    content: dict[str, Any] = ring.open(ring.unwrap(keys.get(r.id)), r.id, r.sealed)
                except KeyUnavailable:
                    summary.readable = False
                else:
                    summary.person_count, summary.district, summary.names = draft_display(content)
                    await rt.audit(conn, principal, WRITE_ROLES, "list", "intake_draft", r.id)
            out.append(summary)
    return DraftList(drafts=out, total=total)


async def complete_draft(rt: IntakeRuntime, principal: Principal, draft_id: uuid.UUID) -> tuple[IntakeCreated, bool]:
    """Completes a draft as an intake. Any front-desk clerk may complete (and save) any clerk's draft: the
    team shares the counter and a household that returns meets whoever is free; the intake records who
    completed it (`completed_by`), the draft who started it, the audit log every save and read."""
    draft = await load_draft(rt, principal, draft_id)
    if draft.completed_intake_id is not None:  # a retried completion answers with the intake it made
        async with rt.db.read() as conn:
            intake = await store.intake_by_id(conn, draft.completed_intake_id)
            if intake is None:
                raise NotFound("no such intake")
            ids = await store.person_ids(conn, intake.household_id)
        return IntakeCreated(intake_id=intake.id, household_id=intake.household_id, person_ids=ids), False
    try:
        command = IntakeIn.model_validate(draft.content)
    except ValidationError as exc:  # every problem at once, so the front desk fixes them in one pass
        errors = [(".".join(str(p) for p in e["loc"]), f"the draft is incomplete: {e['msg']}") for e in exc.errors(include_url=False)]
        raise Invalid(errors[0][1], field=errors[0][0], errors=errors) from exc
    return await complete_intake(rt, principal, command, None, draft_id=draft_id)
