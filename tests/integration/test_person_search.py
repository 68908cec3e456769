"""The person search and the duplicate check against a real database migrated to head (SQLite and
PostgreSQL): intakes are indexed as keyed hashes, found across scripts and spellings, every search is
audit-logged without its terms, and erasure, removal and correction keep the index in step."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
import sqlalchemy as sa

from services.intake import handlers, handlers_search, schemas_persons, store, store_search
from services.intake.crypto import generate_master_key
from services.intake.runtime import IntakeRuntime
from services.intake.schemas import HouseholdIn, IntakeIn
from services.intake.settings import IntakeSettings
from services.kit.auth import Principal
from services.kit.db import Database
from services.kit.errors import Invalid
from services.kit.migrations import upgrade
from services.kit.outbox import Outbox
from services.kit.service import Runtime
from services.kit.settings import PlatformSettings
from tests.support.stack import intake_payload, person

FRONT_DESK = Principal("frontdesk", frozenset({"front_desk"}))
OPERATOR = Principal("operator", frozenset({"operator"}))
ROLES = ["front_desk", "caseworker", "team_lead"]


@pytest.fixture
async def rt(database_url: str):  # type: ignore[no-untyped-def]
    await asyncio.to_thread(upgrade, "intake", database_url)
    db = Database(database_url)
    yield IntakeRuntime("intake", PlatformSettings(), IntakeSettings(master_key=generate_master_key()), db, store.kit, Outbox(db, store.kit), None,
                        None)  # type: ignore[arg-type]
    await db.dispose()


async def intake(rt: Runtime, *people: dict) -> tuple[str, list]:
    created, _ = await handlers.complete_intake(rt, FRONT_DESK, IntakeIn.model_validate(intake_payload(*people)), None)
    return str(created.household_id), created.person_ids


async def find(rt: Runtime, q: str | None, born: str | None = None, limit: int = 20) -> list[tuple[str, str]]:
    result = await handlers_search.search_persons(rt, FRONT_DESK, ROLES, q, date.fromisoformat(born) if born else None, limit)
    return [(h.given_name, h.family_name) for h in result.hits]


async def audit_rows(rt: Runtime) -> list[sa.Row]:
    a = store.kit.audit
    async with rt.db.read() as conn:
        return list((await conn.execute(sa.select(a).order_by(a.c.id))).all())


class TestSearchAcrossScripts:
    async def test_latin_finds_cyrillic_and_back(self, rt: Runtime) -> None:
        await intake(rt, person("Иван", "Петров", "1985-03-01", "UA"))
        await intake(rt, person("Ivan", "Petrov", "1990-06-01", "BG"))
        assert await find(rt, "Ivan Petrov", "1985-03-01") == [("Иван", "Петров"), ("Ivan", "Petrov")]
        assert await find(rt, "Иван Петров", "1990-06-01") == [("Ivan", "Petrov"), ("Иван", "Петров")]
        assert sorted(await find(rt, "petroff")) == [("Ivan", "Petrov"), ("Иван", "Петров")]  # both sound the same

    async def test_diacritics(self, rt: Runtime) -> None:
        await intake(rt, person("Ștefan", "Popescu", "1979-05-05", "RO"))
        await intake(rt, person("Stefan", "Popescu", "1980-05-05", "RO"))
        assert await find(rt, "Stefan Popescu", "1979-05-05") == [("Ștefan", "Popescu"), ("Stefan", "Popescu")]
        assert await find(rt, "ȘTEFAN POPESCU", "1980-05-05") == [("Stefan", "Popescu"), ("Ștefan", "Popescu")]

    async def test_arabic_and_latin_spellings(self, rt: Runtime) -> None:
        await intake(rt, person("محمد", "حسن", "2001-07-07", "SY"))
        await intake(rt, person("Muhammad", "Hasan", "1999-01-01", "SY"))
        assert await find(rt, "Mohammed Hassan", "2001-07-07") == [("محمد", "حسن"), ("Muhammad", "Hasan")]
        assert await find(rt, "محمد حسن", "1999-01-01") == [("Muhammad", "Hasan"), ("محمد", "حسن")]

    async def test_by_birth_date_alone(self, rt: Runtime) -> None:
        await intake(rt, person("Ana", "Pop", "1990-01-01", "RO"))
        await intake(rt, person("Ion", "Rus", "1991-01-01", "RO"))
        assert await find(rt, None, "1990-01-01") == [("Ana", "Pop")]

    async def test_too_short_a_query_is_422(self, rt: Runtime) -> None:
        for q in ("", "J.", " - "):
            with pytest.raises(Invalid) as err:
                await find(rt, q)
            assert err.value.field == "q"
        assert await audit_rows(rt) == []


class TestSearchAudit:
    async def test_the_search_and_every_person_shown_are_logged_without_the_terms(self, rt: Runtime) -> None:
        _, (ivan,) = await intake(rt, person("Ivan", "Petrov", "1985-03-01", "BG"))
        before = len(await audit_rows(rt))
        await find(rt, "Ivan Petrov")
        await find(rt, "Ivan Petrov")
        rows = (await audit_rows(rt))[before:]
        assert [(r.action, r.record_type) for r in rows] == [("search", "person_search"), ("search_result", "person")] * 2
        assert rows[0].record_id == rows[2].record_id and rows[0].record_id.startswith("q-")  # the same search, the same reference
        assert rows[1].record_id == str(ivan) and rows[0].actor == "frontdesk" and rows[0].role == "front_desk"
        text = " ".join(str(v) for r in rows for v in r).lower()
        assert "ivan" not in text and "petrov" not in text and "1985" not in text


class TestIndexFollowsTheRecord:
    async def test_erasure_deletes_the_index_rows(self, rt: Runtime) -> None:
        _, (ivan,) = await intake(rt, person("Ivan", "Petrov", "1985-03-01", "BG"))
        async with rt.db.read() as conn:
            assert len(await store_search.search_tokens_of(conn, ivan)) >= 5
        await handlers.erase_person(rt, OPERATOR, ivan, ("operator",))
        async with rt.db.read() as conn:
            assert await store_search.search_tokens_of(conn, ivan) == []
        assert await find(rt, "Ivan Petrov") == []

    async def test_a_correction_reindexes_changed_names_and_drops_removed_persons(self, rt: Runtime) -> None:
        payload = intake_payload(person("Ana", "Pop", "1990-01-01", "RO"), person("Ion", "Pop", "1989-01-01", "RO", relation="partner"))
        created, _ = await handlers.complete_intake(rt, FRONT_DESK, IntakeIn.model_validate(payload), None)
        renamed = dict(payload["household"]["persons"][0], family_name="Ionescu")
        household = HouseholdIn.model_validate({"district": "Westen", "persons": [renamed]})
        await handlers.correct_intake(rt, FRONT_DESK, created.intake_id, household, [created.person_ids[0]])
        assert await find(rt, "Ana Ionescu") == [("Ana", "Ionescu")]
        assert await find(rt, "Pop") == []  # Ana is no longer a Pop, Ion left the household

    async def test_persons_stored_before_the_index_are_indexed_at_start(self, rt: Runtime) -> None:
        await intake(rt, person("Иван", "Петров", "1985-03-01", "UA"))
        async with rt.db.begin() as conn:
            await conn.execute(store.search_tokens.delete())
        assert await find(rt, "Ivan Petrov") == []
        assert await handlers_search.backfill_search_index(rt) == 1
        assert await handlers_search.backfill_search_index(rt) == 0
        assert await find(rt, "Ivan Petrov") == [("Иван", "Петров")]


class TestDuplicateCheck:
    async def test_a_known_person_in_another_spelling_names_the_household(self, rt: Runtime) -> None:
        household, (ivan, _) = await intake(rt, person("Иван", "Петров", "1985-03-01", "UA"),
                                            person("Мария", "Петрова", "1987-06-01", "UA", relation="partner"))
        await intake(rt, person("Ivan", "Petrov", "1985-03-02", "BG"))  # born a day later: someone else
        body = schemas_persons.DuplicateCheckIn.model_validate({"persons": [
            {"given_name": "Olga", "family_name": "Petrova", "date_of_birth": "2010-01-01"},
            {"given_name": "Ivan", "family_name": "Petroff", "date_of_birth": "1985-03-01"},
        ]})
        out = await handlers_search.duplicate_check(rt, FRONT_DESK, ["front_desk"], body)
        assert [str(h.household_id) for h in out.households] == [household]
        assert [(p.person_id, p.given_name, p.matches) for p in out.households[0].persons] == [(ivan, "Иван", [1])]
        rows = await audit_rows(rt)
        assert [(r.action, r.record_id) for r in rows[-2:]] == [("duplicate_check", rows[-2].record_id), ("search_result", str(ivan))]

    async def test_no_known_person_no_household(self, rt: Runtime) -> None:
        await intake(rt, person("Ana", "Popescu", "1990-01-01", "RO"))
        body = schemas_persons.DuplicateCheckIn.model_validate({"persons": [{"given_name": "Maria", "family_name": "Popescu", "date_of_birth": "1990-01-01"}]})
        assert (await handlers_search.duplicate_check(rt, FRONT_DESK, ["front_desk"], body)).households == []


class TestRankingInTheDatabase:
    async def test_the_database_ranks_as_matching_rank_does(self, rt: Runtime) -> None:
        from services.intake import domain_matching as matching

        people = [("Иван", "Петров", "1985-03-01"), ("Ivan", "Petroff", "1990-01-01"), ("Ivan", "Dimitrov", "1985-03-01"),
                  ("Iwan", "Petrow", "1985-03-01"), ("Petar", "Ivanov", "1985-03-01"), ("Ivana", "Petrova", "1970-01-01"),
                  ("Abdullah", "Khalil", "1985-03-01"), ("Maria", "Petrov Ivan", "2000-02-02")]
        for given, family, born in people:
            await intake(rt, person(given, family, born, "UA"))
        for q, born in (("Ivan Petrov", date(1985, 3, 1)), ("Petrov", None), ("Ivan Petrov Dimitrov", None), (None, date(1985, 3, 1)), ("Abd Allah", None)):
            parts = matching.search_parts(q, born)
            by_token = handlers_search._terms(rt, parts, born)
            async with rt.db.read() as conn:
                hits = await store_search.search_hits(conn, list(by_token))
                rows, total = await store_search.ranked_candidates(conn, matching.scoring_plan(by_token, len(parts)), 50)
            expected = matching.rank(by_token, ((h.person_id, h.household_id, h.token) for h in hits), len(parts))
            assert [(r.person_id, r.parts_matched, r.score, bool(r.birth_date_matches)) for r in rows] == [
                (c.person_id, c.parts_matched, c.score, c.birth_date_matches) for c in expected
            ], q
            assert total == len(expected) and total > 0
