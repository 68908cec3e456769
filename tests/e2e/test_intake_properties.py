"""Property-based tests over intake payloads through the stack (issue 3 acceptance): every valid
payload is stored, every invalid one gets 422 naming the field, nothing answers 500."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.contracts.workdays import city_today
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack

TODAY = city_today()
NAMES = st.text(alphabet=st.characters(categories=("L",)), min_size=1, max_size=30).filter(lambda s: s.strip() == s)
ENUMS = {
    "sex": ["female", "male", "diverse", "unspecified"],
    "german_level": ["none", "A1", "A2", "B1", "B2", "C1", "C2"],
    "highest_certificate": ["none", "primary", "lower_secondary", "secondary", "university_entrance", "university_degree"],
    "health_insurance": ["statutory", "private", "eu_card", "asylum_seekers_benefits", "none", "unknown"],
}
STATUSES = ["eu_free_movement", "asylum_seeker", "recognised_refugee", "tolerated", "enforceably_obliged_to_leave", "third_country_with_title"]
NATIONALITIES = ["BG", "RO", "SY", "AF", "UA", "PL", "XK", "ER", "NG", "DE"]
PARTNERS = ["integration_point", "employment_agency", "job_centre", "abra", "language_course", "social_casework"]
PURPOSES = ["referral", "counselling", "job_placement", "data_exchange", "reporting"]


def dates(lo: date, hi: date) -> st.SearchStrategy[date]:
    return st.dates(min_value=lo, max_value=max(lo, hi))


@st.composite
def persons(draw: st.DrawFn, adult: bool, relation: str, born_after: date | None = None) -> dict[str, Any]:
    if adult:
        born = draw(dates(date(1935, 1, 1), TODAY - timedelta(days=19 * 366)))
    else:
        born = draw(dates((born_after or date(1935, 1, 1)) + timedelta(days=1), TODAY))
    nationality = draw(st.sampled_from(NATIONALITIES))
    status = "german" if nationality == "DE" else draw(st.sampled_from(STATUSES))
    move_in = draw(dates(born, TODAY))
    p: dict[str, Any] = {
        "given_name": draw(NAMES), "family_name": draw(NAMES), "date_of_birth": born.isoformat(), "relation": relation,
        "nationality": nationality, "residence_status": status, "move_in_date": move_in.isoformat(),
        "languages": [{"code": c} for c in draw(st.lists(st.sampled_from(["ar", "bg", "ro", "ps", "uk", "de"]), max_size=3, unique=True))],
        "literate": draw(st.booleans()), "schooling_years": draw(st.integers(0, 25)), "work_experience_years": draw(st.integers(0, 60)),
        "able_to_work": draw(st.booleans()), "wants_registration": draw(st.booleans()),
        "vocational_qualification": draw(st.none() | st.text(alphabet=st.characters(categories=("L", "Zs")), max_size=50)),
        "consents": [
            {"partner": draw(st.sampled_from(PARTNERS)), "purpose": draw(st.sampled_from(PURPOSES)), "given_on": draw(dates(born, TODAY)).isoformat()}
            for _ in range(draw(st.integers(0, 2)))
        ],
        **{k: draw(st.sampled_from(v)) for k, v in ENUMS.items()},
    }
    if status == "tolerated":
        p["status_since"] = draw(dates(born, TODAY)).isoformat()
    return p


@st.composite
def households(draw: st.DrawFn) -> dict[str, Any]:
    head = draw(persons(True, "head"))
    adults = [draw(persons(True, draw(st.sampled_from(["partner", "relative", "other"])))) for _ in range(draw(st.integers(0, 2)))]
    youngest_responsible = max(date.fromisoformat(p["date_of_birth"]) for p in [head, *adults] if p["relation"] in ("head", "partner"))
    children = [draw(persons(False, "child", born_after=youngest_responsible)) for _ in range(draw(st.integers(0, 2)))]
    others = [*adults, *children]
    return {"household": {"district": draw(st.sampled_from(["Westen", "Mitte", "Norden", "Heessen"])), "persons": [head, *others]}}


#: (field, invalid value): each must be rejected naming that field
BAD_VALUES = [
    ("german_level", "A3"), ("german_level", 1), ("sex", "x"), ("relation", "boss"), ("schooling_years", 26), ("schooling_years", -1),
    ("work_experience_years", 61), ("nationality", "Syria"), ("nationality", "sy"), ("date_of_birth", (TODAY + timedelta(days=3)).isoformat()),
    ("date_of_birth", "31.12.1990"), ("move_in_date", (TODAY + timedelta(days=1)).isoformat()), ("health_insurance", "maybe"),
    ("highest_certificate", "phd"), ("literate", "perhaps"), ("languages", [{"code": "ARA"}]), ("languages", "ar"),
    ("given_name", ""), ("family_name", "<script>"), ("residence_status", "citizen"),
    ("consents", [{"partner": "nsa", "purpose": "referral", "given_on": "2020-01-01"}]),
    ("consents", [{"partner": "abra", "purpose": "referral", "given_on": (TODAY + timedelta(days=2)).isoformat()}]), ("favourite_colour", "blue"),
]


@pytest.fixture(scope="module")
def http(stack: RunningStack) -> httpx.Client:
    with httpx.Client(base_url=stack.url("intake"), headers={"Authorization": f"Bearer {stack.token('frontdesk')}"}, timeout=20) as c:
        yield c


PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class TestIntakePayloadProperties:
    @PROPS
    @given(payload=households())
    def test_every_valid_payload_is_stored(self, http: httpx.Client, payload: dict[str, Any]) -> None:
        r = http.post("/intakes", json=payload)
        assert r.status_code == 201, r.text
        stored = http.get(f"/intakes/{r.json()['intake_id']}").json()
        assert [p["given_name"] for p in stored["persons"]] == [p["given_name"] for p in payload["household"]["persons"]]
        assert all(p["derived"]["routes"] for p in stored["persons"])

    @PROPS
    @given(payload=households(), bad=st.sampled_from(BAD_VALUES), data=st.data())
    def test_every_invalid_value_gets_422_naming_the_field(self, http: httpx.Client, payload: dict[str, Any], bad: tuple[str, Any],
                                                           data: st.DataObject) -> None:
        field, value = bad
        people = payload["household"]["persons"]
        i = data.draw(st.integers(0, len(people) - 1))
        people[i][field] = value
        r = http.post("/intakes", json=payload)
        assert r.status_code == 422, r.text
        locs = [e["loc"] for e in r.json()["detail"]]
        assert any(loc[:4] == ["body", "household", "persons", i] and (field in loc or len(loc) == 4) for loc in locs), (field, locs)

    @PROPS
    @given(payload=households(),
           field=st.sampled_from(["sex", "relation", "german_level", "schooling_years", "literate", "languages", "consents", "status_since", "date_of_birth",
                                  "nationality", "vocational_qualification"]),
           junk=(st.none() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40) | st.booleans() | st.lists(st.integers(), max_size=3)
                 | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)))
    def test_arbitrary_junk_never_causes_a_500(self, http: httpx.Client, payload: dict[str, Any], field: str, junk: Any) -> None:
        payload["household"]["persons"][0][field] = junk
        r = http.post("/intakes", json=payload)
        assert r.status_code in (201, 422), r.text
        if r.status_code == 422:
            assert all(e["loc"] and e["msg"] for e in r.json()["detail"])

    def test_household_rules_name_the_field(self, http: httpx.Client) -> None:
        from tests.support.stack import intake_payload, person

        r = http.post("/intakes", json=intake_payload(person(born="2015-01-01", relation="child")))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "household", "persons"]
        r = http.post("/intakes", json=intake_payload(person(born="1990-01-01"), person(born="1985-01-01", relation="child")))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "household", "persons", "1", "date_of_birth"]
