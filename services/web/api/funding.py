"""Fund manager screens (DOMAIN.md flow 5; 000 "Härtefallfond", 002 §5): the hardship applications
with their four-eyes state (applicant, deciders so far, deciders required), approve or reject,
payment order and payout; budgets of both funds with the ledger balance and its reconciliation.
Funding enforces the rules (never one's own application, a third person pays out); its 403 is shown
on the page as a German message. The list is pseudonymised; the application page opens the full,
audit-logged record."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.kit.auth import Role
from services.web.api.common import ApiRefused, checked, german_message, uuid_or_gone
from services.web.api.routes import Gone, backend, form_of, page, render, see_other
from services.web.sessions import Session

router = APIRouter()
HARDSHIP = (Role.FUND_MANAGER.value, Role.PAYMENT_OFFICER.value)
PAYMENTS = (Role.PAYMENT_OFFICER.value, Role.FUND_MANAGER.value)
BUDGETS = (Role.FUND_MANAGER.value, Role.STEERING_MEMBER.value)
Hardship = Annotated[Session, Depends(page(*HARDSHIP))]
Payments = Annotated[Session, Depends(page(*PAYMENTS))]
Managers = Annotated[Session, Depends(page(Role.FUND_MANAGER.value))]
Budgets = Annotated[Session, Depends(page(*BUDGETS))]

STATUS = {
    "pending": "offen", "approved": "bewilligt", "payment_ordered": "Auszahlung angeordnet", "disbursed": "ausgezahlt",
    "rejected": "abgelehnt", "redirected": "an zuständige Stelle verwiesen", "cancelled": "storniert",
}
CATEGORIES = {
    "school_supplies": "Schulbedarf", "housing": "Wohnen", "mobility": "Mobilität", "health_related": "Gesundheit",
    "language": "Sprache", "documents": "Dokumente", "other": "Sonstiges",
}
REASONS = {
    "caused_by_authority": "Bedarf durch Fehler einer anderen Behörde verursacht", "undermines_self_reliance": "würde die Selbsthilfe untergraben",
    "period_not_limited": "Zeitraum nicht begrenzt", "budget_exhausted": "Budget erschöpft", "other": "anderer Grund",
}
FUNDS = {"hardship": "Härtefallfonds Integration", "discretionary": "Verfügungsfonds"}
LABELS = {"statuses": STATUS, "categories": CATEGORIES, "reasons": REASONS, "funds": FUNDS}


def euro(cents: Any) -> str:
    if cents is None:
        return "–"
    value = f"{int(cents) / 100:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    return f"{value} €"


def _refusal(answer: Any) -> str:
    detail = answer.body.get("detail") if isinstance(answer.body, dict) else answer.body
    text = str(detail)
    if answer.status == 403:
        if "own application" in text:
            return ("Nicht möglich: Sie haben diesen Antrag selbst gestellt. Nach dem Vier-Augen-Prinzip entscheidet "
                    "eine andere Person aus der Geschäftsführung.")
        if "third person" in text:
            return "Nicht möglich: Die Auszahlung erfasst eine dritte Person, die den Antrag weder gestellt noch entschieden hat."
        return "Nicht möglich: Dafür fehlt Ihnen die Berechtigung."
    if "already decided" in text or "decided" in text and "already" in text:
        return "Nicht möglich: Sie haben diesen Antrag bereits entschieden; es entscheidet eine weitere Person."
    if "budget" in text.lower() or answer.status == 409 and "exhaust" in text.lower():
        return "Nicht möglich: Das verfügbare Budget deckt den Betrag nicht."
    if "no longer open" in text or "not pending" in text:
        return "Nicht möglich: Der Antrag ist nicht mehr offen."
    return f"Nicht möglich: {german_message(text)}"


@router.get("/haertefall", response_class=HTMLResponse)
async def applications(request: Request, s: Managers, status: str = "") -> HTMLResponse:
    status = status if status in STATUS else ""
    answer = await backend(request).call(s, "funding", "GET", "/hardship/applications", params={"status": status} if status else None)
    items = checked(answer)["applications"]
    return render(request, "fund_hardship_list.html", applications=items, filter=status, euro=euro, **LABELS)


async def _application(request: Request, s: Session, application_id: str) -> dict[str, Any]:
    aid = uuid_or_gone(application_id)
    return checked(await backend(request).call(s, "funding", "GET", f"/hardship/applications/{aid}/full"))


def _page(request: Request, a: dict[str, Any], s: Session, status: int = 200, errors: dict[str, str] | None = None,
          values: dict[str, str] | None = None, refusal: str | None = None) -> HTMLResponse:
    own = a["applicant"] == s.username
    return render(request, "fund_hardship.html", status, a=a, own=own, errors=errors or {}, values=values or {}, refusal=refusal, euro=euro, **LABELS)


@router.get("/haertefall/{application_id}", response_class=HTMLResponse)
async def application(request: Request, application_id: str, s: Session = Depends(page(Role.FUND_MANAGER.value))) -> HTMLResponse:
    return _page(request, await _application(request, s, application_id), s)


@router.post("/haertefall/{application_id}/entscheidung", response_class=HTMLResponse)
async def decide(request: Request, application_id: str, s: Session = Depends(page(Role.FUND_MANAGER.value))) -> Response:
    form = await form_of(request)
    values = {k: form.get(k, "") for k in ("entscheidung", "grund")}
    errors: dict[str, str] = {}
    if values["entscheidung"] not in ("approve", "reject"):
        errors["entscheidung"] = "Bitte bewilligen oder ablehnen wählen."
    elif values["entscheidung"] == "reject" and values["grund"] not in REASONS:
        errors["grund"] = "Eine Ablehnung braucht einen Grund."
    a = await _application(request, s, application_id)
    if errors:
        return _page(request, a, s, 422, errors, values)
    body = {"decision": values["entscheidung"], "reason": values["grund"] or None}
    answer = await backend(request).call(s, "funding", "POST", f"/hardship/applications/{a['application_id']}/decisions", json=body)
    if answer.status == 200:
        state = answer.body
        s.flash = f"Ihre Entscheidung ist erfasst. Stand: {STATUS.get(state['status'], state['status'])}."
        return see_other(f"/haertefall/{a['application_id']}")
    if answer.status == 422:
        for d in answer.body.get("detail", []) if isinstance(answer.body.get("detail"), list) else []:
            field = "grund" if "reason" in d.get("loc", []) else "entscheidung"
            errors[field] = german_message(str(d.get("msg", "")))
        return _page(request, a, s, 422, errors or {"entscheidung": german_message(str(answer.body))}, values)
    if answer.status in (403, 409):
        return _page(request, a, s, answer.status, values=values, refusal=_refusal(answer))
    raise ApiRefused(answer)


@router.post("/haertefall/{application_id}/{step}", response_class=HTMLResponse)
async def payment_step(request: Request, application_id: str, step: str, s: Hardship) -> Response:
    await form_of(request)
    paths = {"anordnen": "payment-order", "auszahlen": "payout"}
    if step not in paths:
        raise Gone()
    aid = uuid_or_gone(application_id)
    answer = await backend(request).call(s, "funding", "POST", f"/hardship/applications/{aid}/{paths[step]}")
    if answer.status == 200:
        s.flash = "Die Auszahlung ist angeordnet." if step == "anordnen" else "Die Auszahlung ist erfasst."
    elif answer.status in (403, 409, 422):
        s.flash = _refusal(answer)
    else:
        checked(answer)
    return see_other(f"/haertefall/{aid}" if s.has(Role.FUND_MANAGER.value) else "/auszahlungen")


@router.get("/auszahlungen", response_class=HTMLResponse)
async def payments(request: Request, s: Payments, stand: str = "offen") -> HTMLResponse:
    """The payment officer's work list: ordered hardship payouts and approved measures, then the record."""
    stand = "erledigt" if stand == "erledigt" else "offen"
    answer = await backend(request).call(s, "funding", "GET", "/payments", params={"state": "done" if stand == "erledigt" else "open"})
    return render(request, "fund_payments.html", payments=checked(answer)["payments"], stand=stand, euro=euro, **LABELS)


@router.post("/auszahlungen/{kind}/{application_id}", response_class=HTMLResponse)
async def record_payout(request: Request, kind: str, application_id: str, s: Payments) -> Response:
    await form_of(request)
    aid = uuid_or_gone(application_id)
    paths = {"haertefall": f"/hardship/applications/{aid}/payout", "massnahme": f"/measures/{aid}/payout"}
    if kind not in paths:
        raise Gone()
    answer = await backend(request).call(s, "funding", "POST", paths[kind])
    if answer.status == 200:
        s.flash = (f"Die Auszahlung über {euro(answer.body.get('amount_cents'))} ist erfasst." if answer.body.get("amount_cents")
                   else "Die Auszahlung ist erfasst.")
    elif answer.status in (403, 409, 422):
        s.flash = _refusal(answer)
    else:
        checked(answer)
    return see_other("/auszahlungen")


@router.post("/auszahlungen/abruf/{application_id}/{drawdown_id}", response_class=HTMLResponse)
async def record_drawdown(request: Request, application_id: str, drawdown_id: str, s: Payments) -> Response:
    """A drawdown (Mittelabruf) of a discretionary-fund measure the organisation requested."""
    await form_of(request)
    aid, did = uuid_or_gone(application_id), uuid_or_gone(drawdown_id)
    answer = await backend(request).call(s, "funding", "POST", f"/measures/{aid}/drawdowns/{did}/payout")
    if answer.status == 200:
        s.flash = f"Der Mittelabruf über {euro(answer.body.get('amount_cents'))} ist ausgezahlt."
    elif answer.status in (403, 409, 422):
        s.flash = _refusal(answer)
    else:
        checked(answer)
    return see_other("/auszahlungen")


@router.get("/budgets", response_class=HTMLResponse)
async def budgets(request: Request, s: Budgets, jahr: str = "") -> HTMLResponse:
    year = int(jahr) if jahr.isdigit() and 2000 <= int(jahr) <= 2100 else date.today().year
    api = backend(request)
    funds = []
    for fund, label in FUNDS.items():
        balance = await api.call(s, "funding", "GET", f"/budgets/{fund}/{year}/balance")
        recon = await api.call(s, "funding", "GET", f"/budgets/{fund}/{year}/reconciliation") if s.has(Role.FUND_MANAGER.value) else None
        funds.append({"key": fund, "label": label, "balance": checked(balance) if balance.status != 404 else None,
                      "reconciliation": recon.body if recon is not None and recon.status == 200 else None})
    return render(request, "fund_budgets.html", funds=funds, year=year, euro=euro)
