"""Closed vocabularies shared by events, APIs and reports (DOMAIN.md). Values are stable wire
strings; German labels for screens and reports live with the services."""

from __future__ import annotations

import enum


class ResidenceStatus(enum.StrEnum):
    """DOMAIN.md flow 1, residence status values."""

    EU_FREE_MOVEMENT = "eu_free_movement"
    ASYLUM_SEEKER = "asylum_seeker"  # Aufenthaltsgestattung
    RECOGNISED_REFUGEE = "recognised_refugee"  # incl. subsidiary protection
    TOLERATED = "tolerated"  # Duldung
    ENFORCEABLY_OBLIGED_TO_LEAVE = "enforceably_obliged_to_leave"  # vollziehbar ausreisepflichtig
    THIRD_COUNTRY_WITH_TITLE = "third_country_with_title"
    GERMAN = "german"  # German citizens moving in (no integration route of their own)


class Prospect(enum.StrEnum):
    """Prospect of staying (Bleibeperspektive)."""

    GOOD = "good"
    UNCLEAR = "unclear"
    NONE = "none"


class Need(enum.StrEnum):
    """Integration needs (001 "Adressaten")."""

    LANGUAGE = "language"
    EDUCATION = "education"
    WORK = "work"
    SOCIAL = "social"
    CULTURAL_POLITICAL = "cultural_political"


class Route(enum.StrEnum):
    """Routes of a person after intake (DOMAIN.md flow 1)."""

    ABRA_CLEARING = "abra_clearing"  # Bulgaria/Romania: pre-registration clearing first
    CASEWORK = "casework"  # Soziales Fallmanagement
    RETURN_COUNSELLING = "return_counselling"  # enforceably obliged to leave: information and counselling only
    INFORMATION = "information"  # everyone else: information and referral only
    YOUTH_WELFARE = "youth_welfare"  # unaccompanied minors: referred to the Jugendamt (§42a SGB VIII), no case here
    DAYCARE = "daycare"  # child 0-6: Kita place
    SCHOOL_SIDE_ENTRY = "school_side_entry"  # child 6-18: Seiteneinstieg


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    DIVERSE = "diverse"
    UNSPECIFIED = "unspecified"


class AgeGroup(enum.StrEnum):
    """Coarse age bands used in events and reports instead of birth dates."""

    UNDER_6 = "0-5"
    AGE_6_17 = "6-17"
    AGE_18_24 = "18-24"
    AGE_25_44 = "25-44"
    AGE_45_64 = "45-64"
    AGE_65_PLUS = "65+"


class Partner(enum.StrEnum):
    """Partners a client may consent to share data with, and be referred to (DOMAIN.md flows 1 and 4)."""

    INTEGRATION_POINT = "integration_point"
    EMPLOYMENT_AGENCY = "employment_agency"  # Agentur für Arbeit, SGB III
    JOB_CENTRE = "job_centre"  # Jobcenter, SGB II
    ABRA = "abra"
    LANGUAGE_COURSE = "language_course"
    DAYCARE = "daycare"
    SCHOOL_SIDE_ENTRY = "school_side_entry"
    MIGRATION_COUNSELLING = "migration_counselling"
    HEALTH = "health"
    WOMENS_COUNSELLING = "womens_counselling"
    SOCIAL_CASEWORK = "social_casework"  # Soziales Fallmanagement


class Purpose(enum.StrEnum):
    """Purposes of a consent (purpose-bound consent, SGB X §67b)."""

    REFERRAL = "referral"
    COUNSELLING = "counselling"
    JOB_PLACEMENT = "job_placement"
    DATA_EXCHANGE = "data_exchange"
    REPORTING = "reporting"


class Programme(enum.StrEnum):
    SOCIAL_CASEWORK = "Soziales Fallmanagement"
    ABRA = "ABRA"


class FieldOfAction(enum.IntEnum):
    """The 18 fields of action (Handlungsfelder, 000 §4)."""

    LANGUAGE = 1
    EDUCATION = 2
    WORK = 3
    PRACTICAL_SUPPORT = 4
    SOCIAL_INCLUSION = 5
    REGIONAL_STRUCTURES = 6
    SELF_DETERMINATION = 7
    CULTURAL_ENGAGEMENT = 8
    KNOWLEDGE = 9
    COMPETENCES = 10
    STEREOTYPES = 11
    VALUES = 12
    ACCESS_MOTIVATION = 13
    CHILD_PROTECTION_HEALTH = 14
    SAFETY_ORDER = 15
    EVALUATION = 16
    TRANSPARENCY = 17
    INTERCULTURAL_DEVELOPMENT = 18


#: German short names of the 18 fields of action (000 §4), for screens and reports.
FIELD_OF_ACTION_LABELS: dict[int, str] = {
    FieldOfAction.LANGUAGE: "Sprache", FieldOfAction.EDUCATION: "Bildung", FieldOfAction.WORK: "Arbeit",
    FieldOfAction.PRACTICAL_SUPPORT: "Praktische Unterstützung", FieldOfAction.SOCIAL_INCLUSION: "Soziale Eingebundenheit",
    FieldOfAction.REGIONAL_STRUCTURES: "Regionale Strukturen", FieldOfAction.SELF_DETERMINATION: "Selbstbestimmung",
    FieldOfAction.CULTURAL_ENGAGEMENT: "Kulturelles Engagement", FieldOfAction.KNOWLEDGE: "Wissen",
    FieldOfAction.COMPETENCES: "Handlungskompetenz", FieldOfAction.STEREOTYPES: "Stereotype", FieldOfAction.VALUES: "Werte",
    FieldOfAction.ACCESS_MOTIVATION: "Zugänge/Motivation", FieldOfAction.CHILD_PROTECTION_HEALTH: "Kinderschutz/Gesundheit",
    FieldOfAction.SAFETY_ORDER: "Sicherheit/Ordnung", FieldOfAction.EVALUATION: "Evaluation",
    FieldOfAction.TRANSPARENCY: "Transparenz/Kooperation", FieldOfAction.INTERCULTURAL_DEVELOPMENT: "Interkulturelle Systementwicklung",
}


#: Areas the funded projects of the discretionary fund fell into (002 §5: "vorrangig aus den folgenden
#: Bereichen"), with their German labels: funding validates `area` against it, the web shows the labels.
DISCRETIONARY_AREAS: dict[str, str] = {
    "structured_arrival": "Förderung eines strukturierten Ankommens",
    "school_projects": "Schulprojekte",
    "participation": "Verbesserung der gesellschaftlichen Teilhabe",
    "psychosocial_health": "Förderung der psychosozialen Gesundheit",
    "language_and_work": "Unterstützung der sprachlichen und beruflichen Integration",
    "volunteering": "Förderung des ehrenamtlichen Engagements in der Flüchtlingsarbeit",
}
