"""The person search's rules (services/intake/domain_matching.py): normalisation across scripts and spellings,
phonetic keys, ranking of index hits and the duplicate rule. Pure functions; tokens here are the terms
themselves (the keyed hashing is crypto.BlindIndex, tested in TestBlindIndex)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.intake import domain_matching as matching
from services.intake.crypto import Keyring, generate_master_key
from services.intake.domain_matching import likely_same_person, name_parts, phonetic_keys


def meets(a: str, b: str) -> bool:
    """Every part of `a` shares a phonetic key with the part of `b` at the same position."""
    pa, pb = name_parts(a), name_parts(b)
    return len(pa) == len(pb) and all(phonetic_keys(x) & phonetic_keys(y) for x, y in zip(pa, pb, strict=True))


class TestNormalisation:
    @pytest.mark.parametrize(("text", "parts"), [
        ("Иван Петров", ["ivan", "petrov"]),
        ("Ștefan Popescu", ["stefan", "popescu"]),
        ("ŞTEFAN  popescu", ["stefan", "popescu"]),
        ("Müller-Lüdenscheidt", ["muller", "ludenscheidt"]),
        ("محمد", ["mhmd"]),
        ("أحمد", ["hmd"]),  # the hamza mark is no letter
        ("Ｉｖａｎ", ["ivan"]),  # full-width letters (NFKC)
        ("J. R. Tolkien", ["tolkien"]),  # initials are dropped
        ("Χρήστος", ["christos"]),
    ])
    def test_name_parts(self, text: str, parts: list[str]) -> None:
        assert name_parts(text) == parts

    def test_an_initial_only_query_is_too_short(self) -> None:
        with pytest.raises(matching.QueryTooShort):
            matching.search_parts("J.", None)
        with pytest.raises(matching.QueryTooShort):
            matching.search_parts("   ", None)
        assert matching.search_parts("", date(1990, 1, 1)) == []


class TestPhoneticKeys:
    @pytest.mark.parametrize(("a", "b"), [
        ("Mohammed", "Muhammad"), ("Mohammed", "Mohamad"), ("Muhammad", "محمد"),
        ("Petrov", "Petroff"), ("Petrov", "Petrow"), ("Ivan", "Iwan"), ("Иван Петров", "Ivan Petrov"),
        ("Yusuf", "Jussuf"), ("Youssef", "يوسف"), ("Ahmed", "أحمد"), ("Achmed", "Ahmad"),
        ("Khaled", "خالد"), ("Chaled", "Khaled"), ("Fatima", "فاطمة"), ("Ibrahim", "إبراهيم"),
        ("Hassan", "Хасан"), ("Stefan", "Stephan"), ("Ștefan Popescu", "Stefan Popescu"),
        ("Georgi", "Gheorghe"), ("Георги", "Georgi"), ("Müller", "Mueller"),
    ])
    def test_spellings_meet(self, a: str, b: str) -> None:
        assert meets(a, b)

    @pytest.mark.parametrize(("a", "b"), [("Ahmed", "Mohammed"), ("Ivan", "Ion"), ("Petrov", "Popescu"), ("Maria", "Marta")])
    def test_different_names_do_not(self, a: str, b: str) -> None:
        assert not meets(a, b)


def hits_for(people: dict[str, tuple[str, str, date]], parts: list[str], born: date | None) -> list[matching.Candidate]:
    """Index `people` (label -> names, birth date) and rank them for a query, with terms as tokens."""
    ids = {label: uuid.uuid5(uuid.NAMESPACE_DNS, label) for label in people}
    hits = [(ids[label], ids[label], f"{k}:{v}") for label, (g, f, b) in people.items() for k, v in matching.index_terms(g, f, b)]
    by_token: dict[str, list[matching.Term]] = {}
    for t in matching.query_terms(parts, born):
        by_token.setdefault(f"{t.kind}:{t.value}", []).append(t)
    ranked = matching.rank(by_token, hits, len(parts))
    names = {v: k for k, v in ids.items()}
    for c in ranked:
        c.label = names[c.person_id]  # type: ignore[attr-defined]
    return ranked


PEOPLE = {
    "cyrillic": ("Иван", "Петров", date(1985, 3, 1)),
    "latin_other_born": ("Ivan", "Petroff", date(1990, 1, 1)),
    "namesake_given": ("Ivan", "Dimitrov", date(1985, 3, 1)),
    "stefan": ("Ștefan", "Popescu", date(1979, 5, 5)),
    "arabic": ("محمد", "حسن", date(2001, 7, 7)),
}


class TestRanking:
    def test_latin_query_finds_the_cyrillic_record_first(self) -> None:
        ranked = hits_for(PEOPLE, name_parts("Ivan Petrov"), date(1985, 3, 1))
        assert [c.label for c in ranked][:3] == ["cyrillic", "latin_other_born", "namesake_given"]  # type: ignore[attr-defined]
        best = ranked[0]
        assert best.parts_matched == 2 and best.birth_date_matches and best.score == 2 + 2 + 3

    def test_a_phonetic_match_scores_below_the_same_spelling(self) -> None:
        ranked = hits_for(PEOPLE, name_parts("Ivan Petroff"), None)
        assert [(c.label, c.score) for c in ranked][:2] == [("latin_other_born", 4), ("cyrillic", 3)]  # type: ignore[attr-defined]

    def test_a_shared_birth_date_alone_is_no_hit_when_names_are_given(self) -> None:
        ranked = hits_for(PEOPLE, name_parts("Stefan"), date(1985, 3, 1))
        assert [c.label for c in ranked] == ["stefan"]  # type: ignore[attr-defined]

    def test_a_birth_date_alone_lists_everyone_born_that_day(self) -> None:
        ranked = hits_for(PEOPLE, [], date(1985, 3, 1))
        assert sorted(c.label for c in ranked) == ["cyrillic", "namesake_given"]  # type: ignore[attr-defined]

    def test_latin_spelling_finds_the_arabic_record(self) -> None:
        ranked = hits_for(PEOPLE, name_parts("Mohammed Hassan"), None)
        assert [(c.label, c.parts_matched) for c in ranked] == [("arabic", 2)]  # type: ignore[attr-defined]

    def test_joined_parts_meet_a_single_part(self) -> None:
        ranked = hits_for({"abdullah": ("Abdullah", "Khalil", date(1970, 1, 1))}, name_parts("Abd Allah"), None)
        assert [(c.label, c.parts_matched) for c in ranked] == [("abdullah", 2)]  # type: ignore[attr-defined]


class TestDuplicateRule:
    born = date(1985, 3, 1)

    @pytest.mark.parametrize(("new", "known"), [
        (("Ivan", "Petrov"), ("Иван", "Петров")),
        (("Иван", "Петров"), ("Ivan", "Petrov")),
        (("Stefan", "Popescu"), ("Ștefan", "Popescu")),
        (("Mohammed", "Hassan"), ("محمد", "حسن")),
        (("Petrov", "Ivan"), ("Ivan", "Petrov")),  # names in the other order
        (("Ivan", "Petrov"), ("Ivan Sergejewitsch", "Petrov")),  # a patronymic more
        (("Abd Allah", "Khalil"), ("Abdullah", "Khalil")),
    ])
    def test_the_same_person_in_other_spellings(self, new: tuple[str, str], known: tuple[str, str]) -> None:
        assert likely_same_person(new, self.born, known, self.born)

    @pytest.mark.parametrize(("new", "known", "known_born"), [
        (("Ivan", "Petrov"), ("Ivan", "Petrov"), date(1985, 3, 2)),  # another birth date
        (("Ana", "Popescu"), ("Maria", "Popescu"), born),  # twins
        (("Ivan", "Dimitrov-Abcdef"), ("Ivan", "Dimitrov-Uvwxyz"), born),
        (("Ahmed", "Hassan"), ("Mohammed", "Hassan"), born),
    ])
    def test_other_persons(self, new: tuple[str, str], known: tuple[str, str], known_born: date) -> None:
        assert not likely_same_person(new, self.born, known, known_born)


class TestBlindIndex:
    def test_tokens_are_keyed_and_hold_no_name(self) -> None:
        a, b = Keyring(generate_master_key()).blind_index(), Keyring(generate_master_key()).blind_index()
        token = a.token("n", "petrov")
        assert token == a.token("n", "petrov") and len(token) == 32 and "petrov" not in token
        assert token != b.token("n", "petrov") and token != a.token("p", "petrov")
        assert a.reference([token, a.token("n", "ivan")]) == a.reference([a.token("n", "ivan"), token])
