"""Pure rules of the measures catalogue and the providers' figures (issue 14): the six strategic goals
of 000 §6.1, which provider runs which measure, the validation of reported figures, the quarter they
are reported for, what is missing, and small-cell suppression of reported counts of persons."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from services.contracts.vocab import FieldOfAction
from services.reporting import reports
from services.reporting.domain import parse_period
from services.reporting.domain_catalogue import (
    STRATEGIC_GOALS,
    check_figures,
    due_quarter,
    figure_period,
    figure_shown,
    figures_missing,
    goals_of_fields,
    measure_matches,
    next_measure_number,
    provides,
    recent_quarters,
)
from services.reporting.models import MeasureIn, load_figures, load_measures


def measure(**over: object) -> MeasureIn:
    base = dict(number=6, name="Niederschwellige Spielgruppen", office="51", municipal_concept_eur=0, municipal_budget_eur=0,
                third_party_eur=17000, funders=["Land NRW"], provider="Diakonie & Caritas", fields_of_action=[2, 5],
                figures=["participants", "sessions_held"])
    return MeasureIn.model_validate({**base, **over})


class TestStrategicGoals:
    def test_the_grouping_is_the_one_of_000_section_6_1(self) -> None:
        # the numbers in brackets of 000 §6.1, goal by goal
        assert {g: fields for g, (_, fields) in STRATEGIC_GOALS.items()} == {
            1: (1, 2, 3, 5, 6, 8, 15), 2: (7, 9, 10), 3: (4, 7, 13, 14), 4: (11, 12), 5: (10, 17, 18), 6: (16,),
        }
        assert [name for name, _ in STRATEGIC_GOALS.values()] == [
            "Gesellschaftliche Teilhabe und gesellschaftlicher Zusammenhalt", "Selbstständigkeit", "Unterstützung",
            "Einstellungen und Haltungen", "Professionalität und Kooperation", "Weiterentwicklung",
        ]

    def test_every_field_of_action_belongs_to_a_goal_and_only_7_and_10_to_two(self) -> None:
        for f in FieldOfAction:
            goals = goals_of_fields([f.value])
            assert len(goals) == (2 if f.value in (7, 10) else 1), f
        assert goals_of_fields([7]) == [2, 3] and goals_of_fields([10]) == [2, 5]

    def test_a_measure_contributes_to_the_goals_of_its_fields_in_goal_order(self) -> None:
        assert goals_of_fields([16, 4, 1]) == [1, 3, 6]
        assert goals_of_fields([]) == []

    def test_every_catalogue_measure_lands_in_a_goal_and_the_goals_table_lists_it(self) -> None:
        ms = load_measures()
        table = reports.goals_table(ms)
        listed = {int(n) for row in table.rows for n in str(row[3]).split(", ") if n}
        assert listed == {m.number for m in ms}
        assert [row[0] for row in table.rows][0] == "1 Gesellschaftliche Teilhabe und gesellschaftlicher Zusammenhalt"


class TestProviders:
    @pytest.mark.parametrize(("entry", "provider", "expected"), [
        ("Caritas", "Caritas", True),
        ("Diakonie & Caritas", "caritas", True),  # joint provider, case does not matter
        ("neu/ Kommunales Integrationszentrum", "Kommunales Integrationszentrum", True),
        ("02/Einwanderung", "02/Einwanderung", True),  # the whole entry too
        ("Diakonie Ruhr-Hellweg, Frauenberatungs- und Therapiezentrum", "Diakonie Ruhr-Hellweg, Frauenberatungs- und Therapiezentrum", True),
        ("Caritas", "Diakonie", False),
        ("KJC", "", False),
        ("KJC", None, False),
    ])
    def test_a_provider_account_runs_the_measures_that_name_it(self, entry: str, provider: str | None, expected: bool) -> None:
        assert provides(measure(provider=entry), provider) is expected

    def test_the_demo_providers_measures(self) -> None:
        ms = load_measures()
        assert [m.number for m in ms if provides(m, "Caritas")] == [1, 6, 31]
        assert [m.number for m in ms if provides(m, "KJC")] == [21, 22, 23, 24, 26, 27, 28, 29, 30]


class TestCatalogueFilters:
    def test_by_field_of_action_funder_and_office(self) -> None:
        ms = load_measures()
        assert all(5 in m.fields_of_action for m in ms if measure_matches(m, field_of_action=5))
        assert [m.number for m in ms if measure_matches(m, funder="ESF")] == [30]
        assert {m.office for m in ms if measure_matches(m, office="kjc")} == {"KJC"}
        assert [m.number for m in ms if measure_matches(m, funder="Land NRW", office="51", field_of_action=5)] == [6, 20]

    def test_a_new_measure_continues_the_numbering(self) -> None:
        assert next_measure_number(list(range(1, 49))) == 49
        assert next_measure_number([]) == 1

    def test_every_measure_reports_known_figures_and_bad_catalogue_input_is_refused(self) -> None:
        known = set(load_figures())
        assert all(m.figures and set(m.figures) <= known for m in load_measures())
        with pytest.raises(ValidationError, match="unknown figures"):
            measure(figures=["participants", "smiles"])
        with pytest.raises(ValidationError, match="1..18"):
            measure(fields_of_action=[0, 3])
        with pytest.raises(ValidationError, match="greater than or equal"):
            measure(third_party_eur=-1)


class TestFigures:
    def test_whole_non_negative_numbers_for_every_figure_of_the_measure(self) -> None:
        assert check_figures(measure(), {"participants": 12, "sessions_held": 0}) == ({"participants": 12, "sessions_held": 0}, [])

    def test_each_wrong_value_is_named_at_its_key_and_nothing_is_kept(self) -> None:
        clean, errors = check_figures(measure(), {"participants": -1, "sessions_held": 2.5, "smiles": 3})
        assert clean == {}
        assert dict(errors) == {
            "values.participants": "must not be negative",
            "values.sessions_held": "must be a whole number",
            "values.smiles": "measure 6 does not report 'smiles'; it reports participants, sessions_held",
        }

    @pytest.mark.parametrize("bad", [True, "12", None, 1_000_001])
    def test_no_booleans_strings_nulls_or_absurd_numbers(self, bad: object) -> None:
        _, errors = check_figures(measure(), {"participants": bad, "sessions_held": 1})
        assert [f for f, _ in errors] == ["values.participants"]

    def test_a_missing_figure_is_required(self) -> None:
        _, errors = check_figures(measure(), {"participants": 3})
        assert errors == [("values.sessions_held", "field required")]

    def test_a_measure_without_figures_takes_none(self) -> None:
        _, errors = check_figures(measure(figures=[]), {})
        assert errors and errors[0][0] == "values"

    def test_figures_are_for_the_current_or_a_past_quarter(self) -> None:
        today = date(2026, 12, 3)
        assert figure_period("2026-Q4", today).key == "2026-Q4"
        assert figure_period("2024-Q1", today).key == "2024-Q1"
        with pytest.raises(ValueError, match="has not begun"):
            figure_period("2027-Q1", today)
        with pytest.raises(ValueError, match="per quarter"):
            figure_period("2026-11", today)
        with pytest.raises(ValueError, match="not a month"):
            figure_period("2026-Q5", today)

    def test_the_due_quarter_is_the_last_complete_one(self) -> None:
        assert due_quarter(date(2026, 12, 3)).key == "2026-Q3"
        assert [q.key for q in recent_quarters(date(2026, 2, 1))] == ["2026-Q1", "2025-Q4", "2025-Q3", "2025-Q2"]

    def test_missing_are_the_measures_with_figures_and_no_report(self) -> None:
        ms = [measure(number=1), measure(number=2), measure(number=3, figures=[])]
        assert [m.number for m in figures_missing(ms, {2})] == [1]


class TestSuppressionOfReportedFigures:
    def test_persons_below_five_are_hidden_sessions_and_zeros_are_shown(self) -> None:
        defs = load_figures()
        assert not figure_shown(defs["participants"], 4, 5)
        assert figure_shown(defs["participants"], 5, 5) and figure_shown(defs["participants"], 0, 5)
        assert figure_shown(defs["sessions_held"], 2, 5)
        assert not figure_shown(None, 3, 5)  # unknown: the safe side

    def test_the_report_table_groups_by_goal_and_suppresses_small_person_counts(self) -> None:
        m = measure(fields_of_action=[2, 7])  # goal 1 (field 2), goals 2 and 3 (field 7)
        reported = {"2026-Q3": {6: {"values": {"participants": 3, "sessions_held": 2}}}}
        t = reports.figures_table([m], reported, ["2026-Q3", "2026-Q4"], 5)
        assert [r[0].split(" ")[0] for r in t.rows] == ["1", "1", "2", "2", "3", "3"]
        first = t.rows[0]
        assert first[1:4] == [6, "Niederschwellige Spielgruppen", "Teilnehmende (Personen)"]
        assert first[4] is None and (0, 4) in t.suppressed  # 3 persons: suppressed
        assert t.rows[1][4] == 2  # 2 sessions: not persons, shown
        assert first[5] == reports.NOT_REPORTED  # nothing reported for Q4
        assert parse_period("2026").quarters()[0].key == "2026-Q1"
