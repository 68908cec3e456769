"""Benchmark of the person search (issue 14) on a blind index of 100,000 persons.

    .venv/bin/python -m bench.person_search [--persons 100000] [--queries 1000] [--database-url URL]

1. migrates a fresh intake database (a SQLite file in a temporary directory, or `--database-url`, e.g.
   postgresql+asyncpg://...) to head;
2. stores `--persons` persons directly through intake's store and indexer (households of 1-4 persons,
   each person's fields sealed under a data key of their own, index rows from runtime.search_rows): names
   from a few very common real names (Mohammed, Ivan, Maria, ... in Latin, Cyrillic and Arabic script, so
   some index terms are shared by thousands) and many generated ones, birth dates 1940-2020;
3. runs `--queries` searches through handlers_search.search_persons (the API's path: hashing, index lookup,
   ranking, decrypting the top 20, audit records): 40 % a stored person's name in another spelling or
   script with the birth date, 40 % the name alone, 10 % a common given name alone, 10 % a birth date alone.

Prints the load time, the index size, search latency p50/p90/p99/max (ms), the process CPU time per search
(all threads, so aiosqlite's too: what a search costs on a core of its own, independent of other load on
the machine), persons shown per search and the process's memory (RSS now and peak). Target: p99 < 100 ms.
`--keep DIR` keeps the SQLite database and its master key in DIR and reuses them on the next run (no
second load). Not a test; bounded in count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from anyascii import anyascii

from services.intake import handlers_search, runtime, store
from services.intake.crypto import generate_master_key
from services.intake.runtime import IntakeRuntime
from services.intake.settings import IntakeSettings
from services.kit.auth import Principal
from services.kit.db import Database, utc_now
from services.kit.migrations import upgrade
from services.kit.outbox import Outbox
from services.kit.service import Runtime
from services.kit.settings import PlatformSettings

COMMON_GIVEN = ["Mohammed", "Muhammad", "محمد", "Ahmed", "أحمد", "Ali", "علي", "Fatima", "فاطمة", "Ivan", "Иван", "Maria", "Мария",
                "Elena", "Елена", "Georgi", "Георги", "Ana", "Ion", "Stefan", "Ștefan", "Yusuf", "يوسف", "Olga", "Ольга", "Hassan", "حسن"]
COMMON_FAMILY = ["Petrov", "Петров", "Ivanova", "Иванова", "Popescu", "Ionescu", "Dimitrov", "Димитров", "Hassan", "حسن", "Al-Ahmad",
                 "Nowak", "Kowalski", "Yilmaz", "Khalil", "خليل", "Rahimi", "Popa", "Georgiev", "Георгиев"]
CONSONANTS, VOWELS = "bdfghklmnprstvz", "aeiou"
#: Latin -> Cyrillic for the generated names written in Cyrillic (the reverse of what anyascii does).
TO_CYRILLIC = str.maketrans({"a": "а", "b": "б", "d": "д", "e": "е", "f": "ф", "g": "г", "h": "х", "i": "и", "k": "к", "l": "л", "m": "м",
                             "n": "н", "o": "о", "p": "п", "r": "р", "s": "с", "t": "т", "u": "у", "v": "в", "z": "з"})
FRONT_DESK = Principal("bench", frozenset({"front_desk"}))


def generated(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(syllables)).capitalize()


def name_pools(rng: random.Random) -> tuple[list[str], list[str]]:
    given = [generated(rng, rng.randint(2, 3)) for _ in range(3000)]
    family = [generated(rng, rng.randint(2, 4)) + rng.choice(["", "ov", "escu", "ić", "i", "an"]) for _ in range(20000)]
    return given, family


def pick(rng: random.Random, common: list[str], pool: list[str], common_share: float) -> str:
    name = rng.choice(common) if rng.random() < common_share else rng.choice(pool)
    if name.isascii() and rng.random() < 0.15:
        name = name.lower().translate(TO_CYRILLIC).capitalize()
    return name


def variant(rng: random.Random, name: str) -> str:
    """Another spelling of a stored name: transliterated, with a doubled or dropped letter, or as stored."""
    latin = anyascii(name)
    roll = rng.random()
    if roll < 0.4:
        return latin
    if roll < 0.6 and len(latin) > 3:
        i = rng.randrange(1, len(latin) - 1)
        return latin[:i] + latin[i] + latin[i:]
    if roll < 0.7:
        return latin.replace("v", "w").replace("ff", "v")
    return name


async def load(rt: Runtime, n: int, rng: random.Random) -> list[tuple[str, str, date]]:
    given_pool, family_pool = name_pools(rng)
    ring = runtime.keyring(rt)
    people: list[tuple[str, str, date]] = []
    now = utc_now()
    batch: dict[str, list[dict]] = {"households": [], "intakes": [], "persons": [], "keys": [], "tokens": []}

    async def flush() -> None:
        async with rt.db.begin() as conn:
            await conn.execute(store.households.insert(), batch["households"])
            await conn.execute(store.intakes.insert(), batch["intakes"])
            await conn.execute(store.data_keys.insert(), batch["keys"])
            await conn.execute(store.persons.insert(), batch["persons"])
            for i in range(0, len(batch["tokens"]), 20000):
                await conn.execute(store.search_tokens.insert(), batch["tokens"][i : i + 20000])
        for rows in batch.values():
            rows.clear()

    while len(people) < n:
        household_id, intake_id = uuid.uuid4(), uuid.uuid4()
        family = pick(rng, COMMON_FAMILY, family_pool, 0.2)
        batch["households"].append(dict(id=household_id, district=rng.choice(["Westen", "Mitte", "Norden", "Herringen"]), created_at=now))
        batch["intakes"].append(dict(id=intake_id, household_id=household_id, status="completed", completed_by="bench", completed_at=now, correction_no=0))
        for position in range(min(rng.randint(1, 4), n - len(people))):
            person_id = uuid.uuid4()
            given = pick(rng, COMMON_GIVEN, given_pool, 0.3)
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(80 * 365))
            fields = {"given_name": given, "family_name": family, "date_of_birth": born.isoformat()}
            key, wrapped = ring.new_data_key()
            batch["keys"].append(dict(subject_id=person_id, wrapped_key=wrapped, created_at=now))
            batch["persons"].append(dict(id=person_id, household_id=household_id, position=position, sealed=ring.seal(key, person_id, fields)))
            batch["tokens"] += runtime.search_rows(rt, person_id, household_id, fields)
            people.append((given, family, born))
        if len(batch["persons"]) >= 5000:
            await flush()
    if batch["persons"]:
        await flush()
    return people


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", type=Path, default=None, help="directory to keep (and reuse) the loaded SQLite database in")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        url = args.database_url or f"sqlite+aiosqlite:///{folder / 'intake.db'}"
        reuse = args.keep is not None and (folder / "people.json").exists()
        if not reuse:
            (folder / "master.key").write_text(generate_master_key())
            await asyncio.to_thread(upgrade, "intake", url)
        db = Database(url)
        rt = IntakeRuntime("intake", PlatformSettings(), IntakeSettings(master_key=(folder / "master.key").read_text()), db, store.kit, Outbox(db, store.kit),
                           None, None)  # type: ignore[arg-type]
        try:
            started = time.perf_counter()
            if reuse:
                people = [(g, f, date.fromisoformat(b)) for g, f, b in json.loads((folder / "people.json").read_text())]
            else:
                people = await load(rt, args.persons, rng)
                (folder / "people.json").write_text(json.dumps([(g, f, b.isoformat()) for g, f, b in people]))
            loaded_s = time.perf_counter() - started
            async with db.read() as conn:
                index_rows = (await conn.execute(sa.select(sa.func.count()).select_from(store.search_tokens))).scalar_one()
            print(f"{'reused' if reuse else 'loaded'} {len(people)} persons ({index_rows} index rows, {index_rows / len(people):.1f} per person) "
                  f"in {loaded_s:.1f} s on {db.dialect}")
            queries: list[tuple[str | None, date | None]] = []
            for _ in range(args.queries):
                given, family, born = rng.choice(people)
                roll = rng.random()
                if roll < 0.4:
                    queries.append((f"{variant(rng, given)} {variant(rng, family)}", born))
                elif roll < 0.8:
                    queries.append((f"{variant(rng, given)} {variant(rng, family)}", None))
                elif roll < 0.9:
                    queries.append((rng.choice(COMMON_GIVEN), None))
                else:
                    queries.append((None, born))
            await handlers_search.search_persons(rt, FRONT_DESK, ["front_desk"], "warm up", None, 20)
            latencies: list[float] = []
            cpu: list[float] = []
            shown: list[int] = []
            found = 0
            for (q, born), (_given, _family, _stored_born) in zip(queries, [rng.choice(people) for _ in queries], strict=True):
                t0, c0 = time.perf_counter(), time.process_time()
                result = await handlers_search.search_persons(rt, FRONT_DESK, ["front_desk"], q, born, 20)
                latencies.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
                shown.append(len(result.hits))
                found += bool(result.hits)
            print(f"{len(latencies)} searches: p50 {quantile(latencies, 0.5):.1f} ms, p90 {quantile(latencies, 0.9):.1f} ms, "
                  f"p99 {quantile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms, mean {statistics.mean(latencies):.1f} ms")
            print(f"process CPU per search: p50 {quantile(cpu, 0.5):.1f} ms, p99 {quantile(cpu, 0.99):.1f} ms; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            print(f"searches with hits: {found}/{len(latencies)}; persons shown per search: mean {statistics.mean(shown):.1f}")
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"process memory: RSS {rss_mb():.0f} MB now, peak {peak:.0f} MB")
            print("target p99 < 100 ms:", "met" if quantile(latencies, 0.99) < 100 else "NOT met")
        finally:
            await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
