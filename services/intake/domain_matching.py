"""Finding a known person again (issue 14): how names are normalised across scripts and spellings, which
index terms a person and a query produce, how candidates are ranked and when a person entered at the
counter is likely one already known. Pure functions; the keyed hashing of the terms is `crypto.BlindIndex`.

Why: a household that comes back (another clerk, another spelling of the same name in another script)
must not become a second record: seed 002 §4.1 asks for one folder per person and family with a
"Laufzettel" so that counselling does not start from scratch, and a second household would split that
record and count the newcomers twice in the statistics (000 §6.4 item 5b asks for duplicates to be found).
The spelling rules are defaults we chose (no seed names them): Latin transliteration with `anyascii`
(Cyrillic, Arabic, Greek, Latin with diacritics), then a consonant skeleton as the phonetic key.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from anyascii import anyascii

#: A name part shorter than this (an initial) is not indexed and not searched.
MIN_PART = 2
#: Weights of a match, for the ranking: a name part spelt the same, one that sounds the same, the birth date.
EXACT_WEIGHT, PHONETIC_WEIGHT, BIRTH_DATE_WEIGHT = 2, 1, 3

_NON_LETTERS = re.compile(r"[^a-z]+")
#: Letter groups that spell one sound, longest first (German, English, Romanian and Slavic transliterations).
_DIGRAPHS = (("tsch", "s"), ("shch", "s"), ("sch", "s"), ("sh", "s"), ("zh", "s"), ("ch", "h"), ("kh", "h"),
             ("ph", "f"), ("th", "d"), ("dh", "d"), ("gh", "g"), ("ck", "k"), ("x", "ks"), ("ts", "s"), ("tz", "s"))
#: Consonant classes of the skeleton: letters that stand for similar sounds share one letter.
_CLASSES = str.maketrans({"p": "b", "t": "d", "v": "f", "c": "k", "q": "k", "g": "k", "z": "s"})
_VOWELS = "aeiouyj"


def name_parts(text: str) -> list[str]:
    """A name as lower-case ASCII parts: NFKC, casefolded, transliterated to Latin (`anyascii`: "Иван" ->
    "ivan", "محمد" -> "mhmd", "Ștefan" -> "stefan"), split at everything that is not a letter (spaces,
    hyphens, apostrophes, the hamza and ʿayn marks); parts shorter than MIN_PART (initials) are dropped."""
    latin = anyascii(unicodedata.normalize("NFKC", text).casefold()).lower()
    return [p for p in _NON_LETTERS.split(latin) if len(p) >= MIN_PART]


def _skeleton(part: str, *, w_is_vowel: bool) -> str:
    s = part
    for group, sound in _DIGRAPHS:
        s = s.replace(group, sound)
    s = s.translate(_CLASSES).replace("w", "" if w_is_vowel else "f")
    s = "".join(ch for ch in s if ch not in _VOWELS)
    if len(s) > 1 and s.endswith("h"):  # a final -h is silent (Fatimah, Abdullah; Arabic ta marbuta)
        s = s[:-1]
    out: list[str] = []
    for ch in s:
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


def phonetic_keys(part: str) -> set[str]:
    """The phonetic keys of a normalised name part: its consonant skeleton (similar consonants merged,
    vowels, j and y dropped, repeats collapsed), so that "mohammed", "muhammad", "mohamad" and the Arabic
    "mhmd" meet, and "petrov", "petroff", "petrow" do. Two keys when the part has a w: w as a consonant
    (Iwan = Ivan) and w as a vowel (Arabic و: "ywsf" = Yusuf). An empty skeleton gives no key."""
    keys = {_skeleton(part, w_is_vowel=False), _skeleton(part, w_is_vowel=True)}
    return {k for k in keys if k}


@dataclass(frozen=True)
class Term:
    """One index term a query looks for: `kind` n (the name part as spelt), p (a phonetic key) or b (the
    birth date); `covers` the query's name parts it stands for (a joined pair covers two)."""

    kind: str
    value: str
    covers: frozenset[int] = frozenset()
    weight: int = 0


def _units(parts: list[str]) -> list[tuple[str, frozenset[int]]]:
    """Each part, and each two adjacent parts joined ("abd allah" = "abdallah", "abdul rahman" = "abdulrahman")."""
    units = [(p, frozenset({i})) for i, p in enumerate(parts)]
    units += [(parts[i] + parts[i + 1], frozenset({i, i + 1})) for i in range(len(parts) - 1)]
    return units


def index_terms(given_name: str, family_name: str, date_of_birth: date | str | None) -> set[tuple[str, str]]:
    """What the index holds for a person: (kind, value) per name part and joined pair of adjacent parts
    (as spelt and its phonetic keys), over given and family names together (the order of names differs
    between cultures and counters), and the birth date."""
    terms: set[tuple[str, str]] = set()
    for unit, _ in _units(name_parts(given_name) + name_parts(family_name)):
        terms.add(("n", unit))
        terms.update(("p", k) for k in phonetic_keys(unit))
    if date_of_birth is not None:
        terms.add(("b", str(date_of_birth)))
    return terms


def query_terms(parts: list[str], date_of_birth: date | None) -> list[Term]:
    """The terms a search looks up, each with the query parts it covers and its weight."""
    terms: list[Term] = []
    for unit, covers in _units(parts):
        terms.append(Term("n", unit, covers, EXACT_WEIGHT))
        terms.extend(Term("p", k, covers, PHONETIC_WEIGHT) for k in sorted(phonetic_keys(unit)))
    if date_of_birth is not None:
        terms.append(Term("b", date_of_birth.isoformat(), frozenset(), BIRTH_DATE_WEIGHT))
    return terms


@dataclass(frozen=True)
class ScoringPlan:
    """`rank` in the shape the database evaluates it (store.ranked_candidates), so a search ships the
    top candidates instead of every index hit: per query part the weight of each token that matches
    it, the birth date's token and weight. Same weights, same order as `rank` (an integration test
    compares the two on SQLite and PostgreSQL)."""

    parts: tuple[dict[str, int], ...]
    birth_token: str | None
    birth_weight: int = BIRTH_DATE_WEIGHT

    @property
    def tokens(self) -> list[str]:
        found = {t for part in self.parts for t in part}
        if self.birth_token:
            found.add(self.birth_token)
        return sorted(found)


def scoring_plan(terms_by_token: Mapping[str, list[Term]], query_parts: int) -> ScoringPlan:
    parts: list[dict[str, int]] = [{} for _ in range(query_parts)]
    birth = None
    for token, terms in terms_by_token.items():
        for term in terms:
            if term.kind == "b":
                birth = token
            for i in term.covers:
                parts[i][token] = max(parts[i].get(token, 0), term.weight)
    return ScoringPlan(tuple(parts), birth)


class QueryTooShort(ValueError):
    pass


def search_parts(q: str | None, date_of_birth: date | None) -> list[str]:
    """The name parts of a search; a search needs a name part of MIN_PART letters or a birth date."""
    parts = name_parts(q or "")
    if not parts and date_of_birth is None:
        raise QueryTooShort(f"give a name of at least {MIN_PART} letters or a date of birth")
    return parts


@dataclass
class Candidate:
    person_id: uuid.UUID
    household_id: uuid.UUID
    parts_matched: int = 0
    score: int = 0
    birth_date_matches: bool = False
    matched: set[str] = field(default_factory=set, repr=False)


def rank(terms_by_token: Mapping[str, list[Term]], hits: Iterable[tuple[uuid.UUID, uuid.UUID, str]], query_parts: int) -> list[Candidate]:
    """Candidates from the index hits (person id, household id, token), best first: most query name parts
    matched first, then the score: per query part the best match (spelt the same EXACT_WEIGHT, sounds the
    same PHONETIC_WEIGHT), plus BIRTH_DATE_WEIGHT when the birth date is the same. With name parts in the query, a candidate must match at least one of them
    (a shared birth date alone is no hit); a birth date alone lists everyone born that day."""
    by_person: dict[uuid.UUID, Candidate] = {}
    for person_id, household_id, token in hits:
        c = by_person.get(person_id)
        if c is None:
            c = by_person[person_id] = Candidate(person_id, household_id)
        c.matched.add(token)
    out: list[Candidate] = []
    for c in by_person.values():
        best = [0] * query_parts
        for token in c.matched:
            for term in terms_by_token.get(token, ()):
                if term.kind == "b":
                    c.birth_date_matches = True
                for i in term.covers:
                    best[i] = max(best[i], term.weight)
        c.parts_matched = sum(1 for b in best if b)
        c.score = sum(best) + (BIRTH_DATE_WEIGHT if c.birth_date_matches else 0)
        if (query_parts and not c.parts_matched) or not c.score:
            continue
        out.append(c)
    out.sort(key=lambda c: (-c.parts_matched, -c.score, str(c.person_id)))
    return out


def _part_matches(part: str, units: list[tuple[str, frozenset[int]]]) -> bool:
    keys = phonetic_keys(part)
    return any(part == u or keys & phonetic_keys(u) for u, _ in units)


def likely_same_person(new_name: tuple[str, str], new_born: date, known_name: tuple[str, str], known_born: date) -> bool:
    """The duplicate rule: a person entered at the counter is likely one already known when the birth
    dates are the same and every name part of the shorter name matches a part of the other (spelt the
    same or sounding the same; a joined pair counts: "Abd Allah" = "Abdullah"), so "Ivan Petrov" is
    "Иван Петров" and "Ivan Petrov Ivanov", but twins ("Ana" and "Maria Popescu", same day) and two
    different "Ivan Dimitrov-…" are not. Default we chose; the clerk decides (warning, not a block)."""
    if new_born != known_born:
        return False
    a = name_parts(new_name[0]) + name_parts(new_name[1])
    b = name_parts(known_name[0]) + name_parts(known_name[1])
    if not a or not b:
        return False
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    units = _units(longer)
    return all(_part_matches(p, units) for p in shorter)
