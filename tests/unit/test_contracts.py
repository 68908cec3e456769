"""The event envelope and the contracts' naming rules."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from services.contracts import all_events
from services.contracts.events import ArrivalRecorded, CaseOpened, IntakeCompleted, PersonProfile
from services.contracts.vocab import AgeGroup, Prospect, ResidenceStatus, Sex


def profile() -> PersonProfile:
    return PersonProfile(
        person_id=uuid.uuid4(), adult=True, age_group=AgeGroup.AGE_25_44, sex=Sex.FEMALE,
        residence_status=ResidenceStatus.RECOGNISED_REFUGEE, prospect=Prospect.GOOD, employable=True, german_level="A1",
    )


def completed(**kw: object) -> IntakeCompleted:
    base = dict(tenant="hamm", correlation_id=uuid.uuid4(), intake_id=uuid.uuid4(), household_id=uuid.uuid4(), district="Westen", move_in_date="2026-11-02",
                persons=[profile()])
    return IntakeCompleted(**{**base, **kw})  # type: ignore[arg-type]


class TestEnvelope:
    def test_streams_are_named_producer_event_version(self) -> None:
        contracts = {s: c for s, c in all_events().items() if c.__module__.startswith("services.contracts")}
        assert IntakeCompleted.stream == "intake.intake-completed.v1"
        assert CaseOpened.stream == "casework.case-opened.v1"
        for stream, cls in contracts.items():
            producer, name, version = stream.split(".")
            assert producer == cls.producer and version == f"v{cls.version}"
            assert name.replace("-", "") == cls.__name__.lower()

    def test_envelope_is_filled_and_round_trips(self) -> None:
        event = completed()
        assert event.event_type == "IntakeCompleted" and event.schema_version == 1
        assert event.occurred_at.tzinfo is not None
        assert IntakeCompleted.model_validate_json(event.model_dump_json()) == event

    def test_occurred_at_is_normalised_to_utc(self) -> None:
        event = completed(occurred_at=datetime(2026, 11, 21, 10, 0, tzinfo=timezone(timedelta(hours=1))))
        assert event.occurred_at.utcoffset() == timedelta(0)
        assert event.occurred_at.hour == 9

    def test_naive_timestamps_are_rejected(self) -> None:
        with pytest.raises(ValidationError, match="occurred_at"):
            completed(occurred_at=datetime(2026, 11, 21, 10, 0))

    def test_events_are_frozen(self) -> None:
        event = completed()
        with pytest.raises(ValidationError):
            event.district = "Mitte"  # type: ignore[misc]

    def test_unknown_fields_and_a_foreign_event_type_are_rejected(self) -> None:
        with pytest.raises(ValidationError, match="given_name"):
            completed(given_name="Ivana")
        with pytest.raises(ValidationError, match="event_type"):
            completed(event_type="CaseOpened")


PERSONAL = {"name", "given_name", "family_name", "date_of_birth", "birth_date", "address", "street", "nationality", "health", "notes", "note", "justification",
            "email", "phone"}
LINKING = {"person_id", "person_ids", "household_id", "intake_id", "case_id", "member_ids", "application_id", "clearing_id", "referral_id"}


class TestNoPersonalDataInEvents:
    """DEVELOPERS.md definition of done 4: events carry pseudonymous ids and coarse attributes only."""

    def fields(self, model: type) -> set[str]:
        names: set[str] = set()
        for name, info in model.model_fields.items():
            names.add(name)
            for arg in getattr(info.annotation, "__args__", ()) or (info.annotation,):
                if isinstance(arg, type) and hasattr(arg, "model_fields"):
                    names |= self.fields(arg)
        return names

    def test_no_event_has_a_personal_field(self) -> None:
        for stream, cls in all_events().items():
            personal = self.fields(cls) & PERSONAL
            if cls is ArrivalRecorded:
                continue  # nationality for statistics, on a record that links to nobody (checked below)
            assert not personal, f"{stream} carries {personal}"

    def test_arrival_statistics_link_to_nobody(self) -> None:
        assert not self.fields(ArrivalRecorded) & LINKING
