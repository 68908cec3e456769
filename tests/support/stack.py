"""Drive the embedded stack as a user would (`RunningStack`, `cli`: in deploy/embedded.py, shared with the
benchmarks), and the intake payloads the tests post to it."""

from __future__ import annotations

from typing import Any

from deploy.embedded import FAST_RECLAIM, TIME_SKIPPING, RunningStack, cli

__all__ = ["FAST_RECLAIM", "TIME_SKIPPING", "RunningStack", "cli", "intake_payload", "person"]


def person(given: str = "Ivana", family: str = "Petrova", born: str = "1990-04-02", nationality: str = "SY", **extra: Any) -> dict[str, Any]:
    """A complete intake interview of one person; by default a Syrian recognised refugee (casework route).
    Every field can be overridden through `extra` (e.g. residence_status, move_in_date, relation)."""
    return {
        "given_name": given, "family_name": family, "date_of_birth": born, "sex": "female", "relation": "head",
        "nationality": nationality, "languages": [{"code": "ar"}], "german_level": "A1", "literate": True,
        "schooling_years": 10, "highest_certificate": "secondary", "vocational_qualification": None,
        "work_experience_years": 5, "able_to_work": True, "wants_registration": True, "health_insurance": "statutory",
        "residence_status": "eu_free_movement" if nationality in ("BG", "RO") else "german" if nationality == "DE" else "recognised_refugee",
        "move_in_date": "2026-11-02",
        "consents": [{"partner": "social_casework", "purpose": "counselling", "given_on": "2026-11-02"}], **extra,
    }


def intake_payload(*persons: dict[str, Any], district: str = "Westen") -> dict[str, Any]:
    return {"household": {"district": district, "persons": list(persons) or [person()]}}
