"""The person search and the duplicate warning through the whole embedded stack: intake's API finds a
person across scripts and spellings for the front desk and casework (403 for other roles, 422 for an
empty query); no name or birth date of the persons entered and searched appears in any Redis stream
entry, span file, log file or intake's audit log; the web app's search screen and the interview's
duplicate warning (409 until the clerk confirms a new household).

Every scenario's family names carry a random tag, so persons other tests of the session entered do
not match."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from anyascii import anyascii
from redis.asyncio import Redis

from tests.support.eventually import eventually
from tests.support.stack import RunningStack, intake_payload, person
from tests.support.web import csrf_of, sign_in, web_client

pytestmark = pytest.mark.stack


def tag(alphabet: str) -> str:
    return "".join(random.choices(alphabet, k=7))


CYRILLIC = "бвгдклмнпрстфхцш"
LATIN = "bcdfgklmnprstvz"
ARABIC = "بتدرسشطفقكلمن"


async def complete(stack: RunningStack, *people: dict[str, Any]) -> dict[str, Any]:
    async with stack.client("intake", "frontdesk") as c:
        r = await c.post("/intakes", json=intake_payload(*people))
    assert r.status_code == 201, r.text
    return r.json()


async def search(stack: RunningStack, user: str, **params: Any) -> Any:
    async with stack.client("intake", user) as c:
        return await c.get("/persons/search", params=params)


def needles(*texts: str) -> set[str]:
    """A text as it could appear: as written, JSON-escaped (ensure_ascii), transliterated, lower case."""
    out: set[str] = set()
    for t in texts:
        out |= {t.lower(), json.dumps(t)[1:-1].lower(), anyascii(t).lower()}
    return {n for n in out if len(n) >= 5}


async def stream_texts(redis_url: str) -> list[str]:
    redis = Redis.from_url(redis_url)
    try:
        texts = []
        async for key in redis.scan_iter(count=500):
            if await redis.type(key) != b"stream":
                continue
            for _, fields in await redis.xrange(key):
                texts.append(" ".join(v.decode("utf-8", "replace") for kv in fields.items() for v in kv))
        return texts
    finally:
        await redis.aclose()


def file_texts(folder: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(folder.glob("*.jsonl")))


class TestSearchApi:
    async def test_found_across_scripts_for_front_desk_and_casework(self, stack: RunningStack) -> None:
        family = "Петров" + tag(CYRILLIC)
        created = await complete(stack, person("Иван", family, "1985-03-01", "UA"))
        latin = "Ivan " + anyascii(family)
        for user in ("frontdesk", "caseworker", "teamlead"):
            r = await search(stack, user, q=latin, date_of_birth="1985-03-01")
            assert r.status_code == 200, r.text
            hits = r.json()["hits"]
            assert [(h["given_name"], h["family_name"], h["intake_id"], h["birth_date_matches"]) for h in hits[:1]] == [
                ("Иван", family, created["intake_id"], True)
            ]

    async def test_other_roles_are_refused_and_an_empty_query_is_named(self, stack: RunningStack) -> None:
        assert (await search(stack, "ipadvisor", q="Ivan Petrov")).status_code == 403
        assert (await search(stack, "abra", q="Ivan Petrov")).status_code == 403
        r = await search(stack, "frontdesk", q=" . ")
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "q"], r.text
        async with stack.client("intake", "caseworker") as c:
            dup = await c.post("/intakes/duplicate-check", json={"persons": [{"given_name": "Ivan", "family_name": "Petrov", "date_of_birth": "1985-03-01"}]})
        assert dup.status_code == 403

    async def test_no_name_or_birth_date_reaches_streams_spans_logs_or_the_audit_log(self, stack: RunningStack) -> None:
        cyr, lat, arab = "Петров" + tag(CYRILLIC), "Popescu" + tag(LATIN), "حسن" + tag(ARABIC)
        born = f"19{random.randint(30, 69)}-0{random.randint(1, 9)}-1{random.randint(1, 9)}"
        created = await complete(
            stack, person("Зиновий", cyr, born, "UA"), person("Ștefănel", lat, born, "RO", relation="partner"),
            person("محمد", arab, born, "SY", relation="relative"),
        )
        for q in (f"Zinovii {anyascii(cyr)}", f"Stefanel {lat}", f"Mohammed {anyascii(arab)}"):
            r = await search(stack, "frontdesk", q=q, date_of_birth=born)
            assert r.status_code == 200 and r.json()["hits"][0]["household_id"] == created["household_id"], (q, r.text)
        async with stack.client("intake", "frontdesk") as c:
            dup = await c.post("/intakes/duplicate-check", json={"persons": [{"given_name": "Zinovij", "family_name": anyascii(cyr), "date_of_birth": born}]})
        assert [h["household_id"] for h in dup.json()["households"]] == [created["household_id"]], dup.text

        traces = stack.data_dir / "traces"

        async def search_spans_written() -> str:
            text = file_texts(traces)
            assert text.count('"GET /persons/search"') >= 3 and '"POST /intakes/duplicate-check"' in text
            return text

        spans = await eventually(search_spans_written, timeout=20, interval=0.3)
        search_urls = [s["attributes"].get("http.url", "") for line in spans.splitlines() if line
                       for s in [json.loads(line)] if s["name"] == "GET /persons/search"]
        assert search_urls and all("?" not in u for u in search_urls), search_urls[:3]

        with sqlite3.connect(stack.data_dir / "intake.db") as db:
            audit = "\n".join(" ".join(str(v) for v in row) for row in db.execute("SELECT * FROM audit_log"))
            outbox = "\n".join(str(row[0]) for row in db.execute("SELECT payload FROM outbox"))
        places = {"streams": "\n".join(await stream_texts(stack.redis_url)), "spans": spans, "logs": file_texts(stack.data_dir / "logs"),
                  "audit log": audit, "outbox": outbox}
        assert all(places.values()), [k for k, v in places.items() if not v]
        found = {(where, n) for where, text in places.items() for n in needles(cyr, lat, arab, "Зиновий", "Ștefănel", born) if n in text.lower()}
        assert found == set()


class TestSearchScreenAndDuplicateWarning:
    async def test_the_front_desk_finds_a_known_person_and_is_warned_before_a_second_household(self, stack: RunningStack) -> None:
        family = "Петров" + tag(CYRILLIC)
        known = await complete(stack, person("Иван", family, "1985-03-01", "UA"))
        latin_family = anyascii(family)
        async with web_client(stack) as c:
            await sign_in(stack, c, "frontdesk")
            form = await c.get("/personen/suche")
            assert form.status_code == 200 and "Personen suchen" in form.text
            token = csrf_of(form.text)
            empty = await c.post("/personen/suche", data={"csrf_token": token, "name": "", "geburtsdatum": ""})
            assert empty.status_code == 422 and 'id="name-fehler"' in empty.text
            found = await c.post("/personen/suche", data={"csrf_token": token, "name": f"Ivan {latin_family}", "geburtsdatum": "1985-03-01"})
            assert found.status_code == 200 and f"Иван {family}" in found.text and f'href="/haushalt/{known["intake_id"]}"' in found.text

            draft = (await c.post("/erstgespraech/neu", data={"csrf_token": token, "district": "Westen", "city": "Hamm"})).headers["location"]
            draft_id = draft.split("/")[2]
            async with stack.client("intake", "frontdesk") as api:  # the persons step, as the form would save it
                r = await api.put(f"/intake-drafts/{draft_id}", json={"content": intake_payload(person("Ivan", latin_family, "1985-03-01", "UA"))})
                assert r.status_code == 200, r.text
            review = await c.get(f"/erstgespraech/{draft_id}/pruefen")
            assert review.status_code == 200 and "Schon bekannt?" in review.text and f'href="/haushalt/{known["intake_id"]}"' in review.text
            assert "Erstgespräch abschließen</button>" not in review.text

            refused = await c.post(f"/erstgespraech/{draft_id}/abschliessen", data={"csrf_token": token})
            assert refused.status_code == 409 and "Schon bekannt?" in refused.text
            async with stack.client("intake", "frontdesk") as api:
                assert (await api.get(f"/intake-drafts/{draft_id}")).json()["completed_intake_id"] is None

            confirmed = await c.post(f"/erstgespraech/{draft_id}/abschliessen", data={"csrf_token": token, "neuer_haushalt": "ja"})
            assert confirmed.status_code == 303 and confirmed.headers["location"].startswith("/haushalt/")
            assert confirmed.headers["location"] != f"/haushalt/{known['intake_id']}"

    async def test_a_caseworker_searches_by_name_and_other_roles_are_refused(self, stack: RunningStack) -> None:
        family = "Popescu" + tag(LATIN)
        await complete(stack, person("Ștefan", family, "1979-05-05", "RO"))
        async with web_client(stack) as c:
            await sign_in(stack, c, "caseworker")
            form = await c.get("/personen/suche")
            assert form.status_code == 200 and 'id="fallnummer"' in form.text
            r = await c.post("/personen/suche", data={"csrf_token": csrf_of(form.text), "name": f"Stefan {family}"})
            assert r.status_code == 200 and f"Ștefan {family}" in r.text and "kein Fall in Ihrer Fallzahl" in r.text
            bad = await c.post("/personen/suche", data={"csrf_token": csrf_of(form.text), "fallnummer": "xyz"})
            assert bad.status_code == 422 and 'id="fallnummer-fehler"' in bad.text
        async with web_client(stack) as c:
            await sign_in(stack, c, "ipadvisor")
            assert (await c.get("/personen/suche")).status_code == 403


class TestTheDataProtectionOfficerFindsThePersonOfARequest:
    async def test_a_name_search_leads_to_the_access_request_and_the_log_of_that_person(self, stack: RunningStack) -> None:
        family = "Dimitrova" + tag(LATIN)
        created = await complete(stack, person("Elena", family, "1981-07-07", "BG"))
        person_id = created["person_ids"][0]
        async with web_client(stack) as c:
            await sign_in(stack, c, "dpo")
            form = await c.get("/personen/suche")
            assert form.status_code == 200 and 'id="fallnummer"' not in form.text
            r = await c.post("/personen/suche", data={"csrf_token": csrf_of(form.text), "name": f"Elena {family}", "geburtsdatum": "1981-07-07"})
            assert r.status_code == 200 and f"Elena {family}" in r.text
            assert f'href="/datenschutz/auskunft?person={person_id}"' in r.text and f'href="/datenschutz?person={person_id}"' in r.text
            assert "/haushalt/" not in r.text and "/faelle/" not in r.text
            access = await c.get(f"/datenschutz/auskunft?person={person_id}")
            assert access.status_code == 200 and family in access.text
