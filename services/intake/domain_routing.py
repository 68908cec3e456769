"""What intake derives for each person (DOMAIN.md flow 1): prospect of staying, integration needs,
employability and routes. Pure functions; the thresholds that are our defaults come from settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.contracts.vocab import AgeGroup, Need, Prospect, ResidenceStatus, Route
from services.intake.domain import age_on
from services.intake.schemas import Certificate, Derived, GermanLevel, HealthInsurance, PersonIn

#: Bulgaria and Romania: pre-registration clearing at ABRA before registration (000 "Projekt ABRA",
#: "Kommunales Voranmeldeverfahren" since Nov 2017).
ABRA_NATIONALITIES = frozenset({"BG", "RO"})


@dataclass(frozen=True)
class RoutingRules:
    """Defaults we chose (settings): an asylum seeker's prospect is good for countries of origin with a
    high protection rate, none for safe countries of origin (AsylG §29a, Annex II), unclear otherwise;
    "tolerated for years" (001 "Zielgruppe") means at least `tolerated_years` years."""

    good_prospect_countries: frozenset[str] = frozenset({"SY", "ER", "IQ", "IR", "SO", "AF", "YE"})
    safe_countries: frozenset[str] = frozenset({"AL", "BA", "GH", "XK", "MK", "ME", "SN", "RS", "GE", "MD"})
    tolerated_years: int = 3


def age_group(age: int) -> AgeGroup:
    for limit, group in ((6, AgeGroup.UNDER_6), (18, AgeGroup.AGE_6_17), (25, AgeGroup.AGE_18_24), (45, AgeGroup.AGE_25_44), (65, AgeGroup.AGE_45_64)):
        if age < limit:
            return group
    return AgeGroup.AGE_65_PLUS


def prospect(person: PersonIn, today: date, rules: RoutingRules) -> Prospect:
    """Prospect of staying (Bleibeperspektive) by residence status: recognised refugees, EU citizens,
    Germans and holders of a title: good; asylum seekers: by country of origin (see RoutingRules);
    tolerated for `tolerated_years` or longer: unclear (no departure in sight), shorter: none;
    enforceably obliged to leave: none."""
    status = person.residence_status
    if status in (ResidenceStatus.RECOGNISED_REFUGEE, ResidenceStatus.EU_FREE_MOVEMENT, ResidenceStatus.THIRD_COUNTRY_WITH_TITLE, ResidenceStatus.GERMAN):
        return Prospect.GOOD
    if status == ResidenceStatus.ASYLUM_SEEKER:
        if person.nationality in rules.good_prospect_countries:
            return Prospect.GOOD
        if person.nationality in rules.safe_countries:
            return Prospect.NONE
        return Prospect.UNCLEAR
    if status == ResidenceStatus.TOLERATED:
        since = person.status_since or today
        return Prospect.UNCLEAR if age_on(since, today) >= rules.tolerated_years else Prospect.NONE
    return Prospect.NONE


def needs(person: PersonIn, age: int, employable: bool, prosp: Prospect) -> list[Need]:
    """Integration needs (001 "Adressaten"), defaults we chose: language if German is below B1 (from 6);
    education for children and young people (under 18) and for adults without literacy, with under 9
    years of schooling or without a certificate; work if employable (15-64) and adult; social without
    health insurance or for refugees (asylum, recognised, tolerated); cultural-political for adults (16+)
    not German with a good or unclear prospect (orientation course)."""
    out: list[Need] = []
    if age >= 6 and person.german_level in (GermanLevel.NONE, GermanLevel.A1, GermanLevel.A2) and person.residence_status != ResidenceStatus.GERMAN:
        out.append(Need.LANGUAGE)
    if age < 18 or person.literate is False or person.schooling_years < 9 or person.highest_certificate == Certificate.NONE:
        out.append(Need.EDUCATION)
    if employable and age >= 18:
        out.append(Need.WORK)
    if person.health_insurance in (HealthInsurance.NONE, HealthInsurance.UNKNOWN) or person.residence_status in (
        ResidenceStatus.ASYLUM_SEEKER, ResidenceStatus.RECOGNISED_REFUGEE, ResidenceStatus.TOLERATED
    ):
        out.append(Need.SOCIAL)
    if age >= 16 and person.residence_status != ResidenceStatus.GERMAN and prosp in (Prospect.GOOD, Prospect.UNCLEAR):
        out.append(Need.CULTURAL_POLITICAL)
    return out


def routes(person: PersonIn, age: int, prosp: Prospect, youth_welfare: bool = False) -> list[Route]:
    """Routes of DOMAIN.md flow 1: unaccompanied minors referred to the youth welfare office (Jugendamt,
    vorläufige Inobhutnahme §42a SGB VIII): youth welfare instead of any other first route, as the
    Jugendamt decides for them (no casework case, no ABRA clearing);
    BG/RO nationals who register residence: ABRA clearing first;
    refugees (asylum seeker, recognised) with a good or unclear prospect and persons tolerated for years:
    casework (Soziales Fallmanagement); enforceably obliged to leave: return counselling (information and
    counselling only, no case); everyone else: information. Children 0-5 add daycare, 6-17 school
    side-entry (000 "Seiteneinstieg")."""
    status = person.residence_status
    out: list[Route] = []
    if youth_welfare and age < 18:
        out.append(Route.YOUTH_WELFARE)
    elif person.nationality in ABRA_NATIONALITIES and person.wants_registration:
        out.append(Route.ABRA_CLEARING)
    elif status in (ResidenceStatus.ASYLUM_SEEKER, ResidenceStatus.RECOGNISED_REFUGEE, ResidenceStatus.TOLERATED) and prosp in (
        Prospect.GOOD, Prospect.UNCLEAR
    ):
        out.append(Route.CASEWORK)
    elif status == ResidenceStatus.ENFORCEABLY_OBLIGED_TO_LEAVE:
        out.append(Route.RETURN_COUNSELLING)
    else:
        out.append(Route.INFORMATION)
    if age < 6:
        out.append(Route.DAYCARE)
    elif age < 18:
        out.append(Route.SCHOOL_SIDE_ENTRY)
    return out


def derive(person: PersonIn, today: date, rules: RoutingRules, *, youth_welfare: bool = False) -> Derived:
    """Employable: aged 15-64 and able to work (SGB II §7, §8); outside that span the ability to work
    is not asked. `youth_welfare`: the household is referred to the youth welfare office (see routes)."""
    age = age_on(person.date_of_birth, today)
    employable = 15 <= age <= 64 and person.able_to_work is True
    prosp = prospect(person, today, rules)
    return Derived(
        adult=age >= 18, age_group=age_group(age), prospect=prosp, employable=employable,
        needs=needs(person, age, employable, prosp), routes=routes(person, age, prosp, youth_welfare),
    )
