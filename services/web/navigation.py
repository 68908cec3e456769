"""What each role sees: German role names and the navigation of each role's start page (DOMAIN.md
"Who uses it")."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.auth import Role

ROLE_LABELS: dict[str, str] = {
    Role.FRONT_DESK: "Bürgeramt",
    Role.ABRA_COACH: "ABRA-Coach",
    Role.ABRA_LEAD: "ABRA-Teamleitung",
    Role.CASEWORKER: "Integrationskoordination",
    Role.TEAM_LEAD: "Teamleitung",
    Role.IP_ADVISOR: "Integration Point",
    Role.FUND_MANAGER: "Geschäftsführung Integrationskonzept",
    Role.PAYMENT_OFFICER: "Zahlstelle (Auszahlung)",
    Role.FUND_APPLICANT: "Antragstellende Organisation",
    Role.REFERRAL_PARTNER: "Partnerorganisation (Überleitungen)",
    Role.STEERING_MEMBER: "Lenkungsgruppe",
    Role.REPORTING_OFFICER: "Berichtswesen",
    Role.MEASURE_PROVIDER: "Maßnahmenträger",
    Role.OPERATOR: "Betrieb (IT)",
    Role.DATA_PROTECTION_OFFICER: "Datenschutz",
}

ALL_ROLES = tuple(r.value for r in Role)


@dataclass(frozen=True)
class Item:
    label: str
    path: str
    roles: tuple[str, ...]
    hint: str = ""


ITEMS: tuple[Item, ...] = (
    Item("Arbeitsliste", "/arbeitsliste", ALL_ROLES, hint="Offene Erinnerungen und Eskalationen"),
    Item("Erstgespräch beginnen", "/erstgespraech/neu", (Role.FRONT_DESK.value,), hint="Geführtes Erstgespräch für einen Haushalt"),
    Item("Erstgespräche fortsetzen", "/erstgespraeche", (Role.FRONT_DESK.value,), hint="Begonnene Erstgespräche und Anmeldestatus"),
    Item("Personen suchen", "/personen/suche", (Role.FRONT_DESK.value, Role.CASEWORKER.value, Role.TEAM_LEAD.value, Role.DATA_PROTECTION_OFFICER.value),
         hint="Bekannte Personen und Haushalte nach Name, Geburtsdatum oder Fallnummer"),
    Item("Tageskalender Clearing", "/clearing/kalender", (Role.ABRA_COACH.value, Role.ABRA_LEAD.value), hint="Termine, Anwesenheit und Clearinggespräch"),
    Item("Meine Fälle", "/faelle", (Role.CASEWORKER.value, Role.TEAM_LEAD.value), hint="Fallseite mit Verlauf, Plan und Zielen"),
    Item("Fachkräfte und Fallzahlen", "/team/fachkraefte", (Role.TEAM_LEAD.value,), hint="Sozialräume, Stellenanteil, Fallzahl 1:190, Abwesenheit"),
    Item("Eingehende Überleitungen", "/ueberleitungen", (Role.IP_ADVISOR.value,), hint="Überleitungen an den Integration Point"),
    Item("Überleitungen an uns", "/partner/ueberleitungen", (Role.REFERRAL_PARTNER.value, Role.ABRA_COACH.value, Role.ABRA_LEAD.value),
         hint="Überleitungen an Ihre Organisation beantworten"),
    Item("Härtefallanträge", "/haertefall", (Role.FUND_MANAGER.value,), hint="Anträge entscheiden (Vier-Augen-Prinzip)"),
    Item("Auszahlungen", "/auszahlungen", (Role.PAYMENT_OFFICER.value, Role.FUND_MANAGER.value), hint="Angeordnete Auszahlungen erfassen"),
    Item("Budgets und Buchungen", "/budgets", (Role.FUND_MANAGER.value, Role.STEERING_MEMBER.value), hint="Haushaltsjahr und Buchungen"),
    Item("Verfügungsfonds-Runde", "/verfuegungsfonds", (Role.STEERING_MEMBER.value, Role.FUND_MANAGER.value, Role.FUND_APPLICANT.value),
         hint="Abstimmung, Befangenheit, Protokoll"),
    Item("Meine Anträge", "/verfuegungsfonds/antraege", (Role.FUND_APPLICANT.value,), hint="Antrag stellen, Entscheidung, Mittelabruf, Verwendungsnachweis"),
    Item("Verwendungsnachweise", "/verfuegungsfonds/nachweise", (Role.FUND_MANAGER.value,), hint="Nachweise prüfen, Überarbeitung, Rückforderung"),
    Item("Kennzahlen", "/kennzahlen", (Role.REPORTING_OFFICER.value, Role.TEAM_LEAD.value), hint="Kennzahlen mit Diagrammen"),
    Item("Berichte", "/berichte", (Role.REPORTING_OFFICER.value,), hint="Erstellte und zugestellte Berichte"),
    Item("Maßnahmenkatalog", "/massnahmen", (Role.REPORTING_OFFICER.value,), hint="Maßnahmen bearbeiten, fehlende Meldungen der Träger"),
    Item("Kennzahlen melden", "/kennzahlen-melden", (Role.MEASURE_PROVIDER.value,), hint="Kennzahlen der eigenen Maßnahmen je Quartal"),
    Item("Lücken und Doppelstrukturen", "/luecken", (Role.REPORTING_OFFICER.value, Role.TEAM_LEAD.value), hint="Angebotslücken als Heatmap"),
    Item("Datenschutz", "/datenschutz", (Role.DATA_PROTECTION_OFFICER.value,), hint="Zugriffsprotokoll aller Dienste durchsuchen und exportieren"),
    Item("Auskunft nach Art. 15 DSGVO", "/datenschutz/auskunft", (Role.DATA_PROTECTION_OFFICER.value,),
         hint="Alles, was die Stadt zu einer Person gespeichert hat, als ein Dokument"),
    Item("Hängende Vorgänge", "/betrieb/vorgaenge", (Role.OPERATOR.value,), hint="Laufende Workflows und worauf sie warten"),
    Item("Fehlerwarteschlange", "/betrieb/fehlerwarteschlange", (Role.OPERATOR.value,), hint="Nicht zustellbare Ereignisse erneut einspielen"),
    Item("Ablaufverfolgung", "/betrieb/ablauf", (Role.OPERATOR.value,), hint="Ablauf einer Vorgangs-ID als Baum"),
)


def items_for(roles: list[str] | tuple[str, ...]) -> list[Item]:
    return [i for i in ITEMS if set(i.roles).intersection(roles)]

