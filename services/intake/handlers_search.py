"""Finding a known person or household (issue 14): the search of the front desk and caseworkers by name
(any script or spelling) and birth date, and the duplicate check before an intake creates a household.

The search runs on the blind index (crypto.BlindIndex over matching.index_terms): the query's terms are
hashed with the search key and looked up; candidates are ranked on the hashes (matching.rank) and only
the top ones are decrypted to show their names. Every search is audit-logged with a keyed reference to
its terms (never the terms), and every person whose name it shows with their id."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import domain_matching as matching
from services.intake import store, store_search
from services.intake.domain_matching import Candidate, Term
from services.intake.runtime import IntakeRuntime
from services.intake.schemas_persons import DuplicateCheckIn, DuplicateCheckOut, KnownHousehold, KnownPerson, PersonHit, SearchResult
from services.kit.auth import Principal
from services.kit.errors import Invalid

log = logging.getLogger(__name__)
#: Candidates decrypted for the duplicate check, per new person (a birth date narrows them to a few).
DUPLICATE_CANDIDATES = 20
BACKFILL_BATCH = 500


def _terms(rt: IntakeRuntime, parts: list[str], born: date | None) -> dict[str, list[Term]]:
    index = rt.blind_index
    by_token: dict[str, list[Term]] = {}
    for term in matching.query_terms(parts, born):
        by_token.setdefault(index.token(term.kind, term.value), []).append(term)
    return by_token


async def _candidates(
    conn: AsyncConnection, by_token: dict[str, list[Term]], parts: int, limit: int, *, same_birth_date: bool = False
) -> tuple[list[Candidate], int]:
    """The top `limit` candidates of matching.rank (evaluated by the database) and how many there are;
    their household comes with their person row (`_open`)."""
    rows, total = await store_search.ranked_candidates(conn, matching.scoring_plan(by_token, parts), limit, same_birth_date=same_birth_date)
    return [Candidate(r.person_id, None, int(r.parts_matched), int(r.score), bool(r.birth_date_matches)) for r in rows], total  # type: ignore[arg-type]


async def _open(rt: IntakeRuntime, conn: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[Any, dict[str, Any]]]:
    """The readable persons among `ids` with their intake row and decrypted fields (erased ones drop out)."""
    out: dict[uuid.UUID, tuple[Any, dict[str, Any]]] = {}
    for r in await store_search.persons_with_intake(conn, ids):
        fields = rt.open_person(r, r.wrapped_key)
        if fields is not None:
            out[r.id] = (r, fields)
    return out


async def search_persons(rt: IntakeRuntime, principal: Principal, allowed: Sequence[str], q: str | None, born: date | None, limit: int) -> SearchResult:
    """Persons by name (any script, spelling, order of names) and/or birth date, best first (matching.rank).
    Audit: one record for the search (action "search", record type "person_search", a keyed reference to
    its terms) and one per person shown (action "search_result", record type "person", the person's id)."""
    try:
        parts = matching.search_parts(q, born)
    except matching.QueryTooShort as exc:
        raise Invalid(str(exc), field="q", location="query") from exc
    by_token = _terms(rt, parts, born)
    async with rt.db.begin() as conn:
        top, total = await _candidates(conn, by_token, len(parts), limit + 10)  # a few spare for persons erased since indexed
        opened = await _open(rt, conn, [c.person_id for c in top])
        hits: list[PersonHit] = []
        for c in top:
            if c.person_id not in opened or len(hits) == limit:
                continue
            row, fields = opened[c.person_id]
            hits.append(PersonHit(
                person_id=c.person_id, household_id=row.household_id, intake_id=row.intake_id, district=row.district,
                given_name=fields["given_name"], family_name=fields["family_name"], date_of_birth=fields["date_of_birth"],
                score=c.score, parts_matched=c.parts_matched, birth_date_matches=c.birth_date_matches,
            ))
        reference = rt.blind_index.reference(list(by_token))
        await rt.audit_many(conn, principal, allowed, [("search", "person_search", reference), *(("search_result", "person", h.person_id) for h in hits)])
    log.info("person search: %d candidates, %d shown", total, len(hits))
    return SearchResult(hits=hits, more=total > len(hits) and len(hits) == limit)


async def duplicate_check(rt: IntakeRuntime, principal: Principal, allowed: Sequence[str], body: DuplicateCheckIn) -> DuplicateCheckOut:
    """The households already known with a person who is likely one of `body.persons`
    (matching.likely_same_person: same birth date, every part of the shorter name matches). Audit as
    for the search: one "duplicate_check" record, one "search_result" per known person shown."""
    known: dict[uuid.UUID, KnownPerson] = {}
    rows: dict[uuid.UUID, Any] = {}
    references: list[str] = []
    async with rt.db.begin() as conn:
        for i, p in enumerate(body.persons):
            parts = matching.name_parts(p.given_name) + matching.name_parts(p.family_name)
            by_token = _terms(rt, parts, p.date_of_birth)
            references += list(by_token)
            ranked, _ = await _candidates(conn, by_token, len(parts), DUPLICATE_CANDIDATES, same_birth_date=True)
            for pid, (row, fields) in (await _open(rt, conn, [c.person_id for c in ranked])).items():
                same = matching.likely_same_person((p.given_name, p.family_name), p.date_of_birth,
                                                   (fields["given_name"], fields["family_name"]), date.fromisoformat(fields["date_of_birth"]))
                if not same:
                    continue
                if pid not in known:
                    known[pid] = KnownPerson(person_id=pid, given_name=fields["given_name"], family_name=fields["family_name"],
                                             date_of_birth=fields["date_of_birth"], matches=[])
                    rows[pid] = row
                known[pid].matches.append(i)
        reference = rt.blind_index.reference(references)
        await rt.audit_many(conn, principal, allowed, [("duplicate_check", "person_search", reference), *(("search_result", "person", pid) for pid in known)])
    households: dict[uuid.UUID, KnownHousehold] = {}
    for pid, person in known.items():
        row = rows[pid]
        h = households.setdefault(row.household_id, KnownHousehold(
            household_id=row.household_id, intake_id=row.intake_id, district=row.district, created_at=row.household_created_at, persons=[]))
        h.persons.append(person)
    ordered = sorted(households.values(), key=lambda h: (-len(h.persons), h.created_at))
    log.info("duplicate check: %d persons checked, %d known households", len(body.persons), len(ordered))
    return DuplicateCheckOut(households=ordered)


async def backfill_search_index(rt: IntakeRuntime) -> int:
    """Indexes the persons stored before the search index existed (migration 0005_search_index), in
    batches; persons indexed already are skipped, so a second replica starting at once does no harm."""
    done = 0
    while True:
        async with rt.db.begin() as conn:
            batch = await store_search.unindexed_persons(conn, BACKFILL_BATCH)
            keys = await store.wrapped_keys(conn, [r.id for r in batch])
            rows: list[dict[str, Any]] = []
            for r in batch:
                fields = rt.open_person(r, keys.get(r.id))
                if fields is not None:
                    rows += rt.search_rows(r.id, r.household_id, fields)
            await store_search.put_search_tokens(conn, rows)
        done += len(batch)
        if len(batch) < BACKFILL_BATCH or not rows:
            break
    if done:
        log.info("search index: %d persons indexed at start", done)
    return done
