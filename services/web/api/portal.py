"""The discretionary fund's applicant portal (Verfügungsfonds, DOMAIN.md flow 6; seed 002 §5): an
organisation applies with the fund's guidelines in view, follows its own applications and their
decisions (never another organisation's: funding refuses them), calls off drawdowns where the decision
allows them and submits the proof of use with itemised spending and receipts (PDF, PNG or JPEG; funding
checks the content and the size and gives the German reason). The fund manager reviews the proof:
accepts it, asks for rework with a reason, and reclaims the unspent money to the budget. All rules
are funding's; this module only renders and forwards."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from services.contracts.vocab import DISCRETIONARY_AREAS, FIELD_OF_ACTION_LABELS
from services.kit.auth import Role
from services.web.api.common import ApiRefused, checked, german_message, uuid_or_gone
from services.web.api.discretionary import KINDS, _form
from services.web.api.funding import euro
from services.web.api.routes import backend, page, render, see_other
from services.web.backend import Answer
from services.web.sessions import Session

router = APIRouter()
Applicant = Annotated[Session, Depends(page(Role.FUND_APPLICANT.value))]
Manager = Annotated[Session, Depends(page(Role.FUND_MANAGER.value))]
Either = Annotated[Session, Depends(page(Role.FUND_APPLICANT.value, Role.FUND_MANAGER.value))]

AREAS = DISCRETIONARY_AREAS  # 002 §5: the labels of funding's `area` values
FIELDS = {int(k): v for k, v in FIELD_OF_ACTION_LABELS.items()}
STATUS = {
    "submitted": "eingereicht", "in_round": "in der Beratung der Lenkungsgruppe", "approved": "bewilligt", "rejected": "abgelehnt",
    "paid": "ausgezahlt", "proof_received": "Verwendungsnachweis liegt vor", "proof_submitted": "Verwendungsnachweis in Prüfung",
    "rework_requested": "Verwendungsnachweis: Überarbeitung erbeten", "proof_accepted": "Verwendungsnachweis anerkannt",
    "settled": "abgeschlossen (abgerechnet)",
}
DRAWDOWN_STATUS = {"requested": "angefordert", "paid": "ausgezahlt"}
LINES, ITEMS = 4, 5
LABELS = {"statuses": STATUS, "areas": AREAS, "kinds": KINDS, "fields": FIELDS, "drawdown_statuses": DRAWDOWN_STATUS, "euro": euro}

_GERMAN = (
    (re.compile(r"written justification is required"), "Über 5.000 € ist eine schriftliche Begründung nötig."),
    (re.compile(r"require refugees as the target group"), "Der Verfügungsfonds fördert Maßnahmen für Geflüchtete (Richtlinie)."),
    (re.compile(r"period_end is before period_start"), "Das Ende liegt vor dem Beginn."),
    (re.compile(r"must equal the sum of the budget lines"), "Der Betrag muss der Summe der Kostenpositionen entsprechen."),
    (re.compile(r"should match pattern"), "Bitte eine gültige E-Mail-Adresse angeben."),
    (re.compile(r"cents granted"), "Die Abrufe wären zusammen höher als der bewilligte Betrag."),
    (re.compile(r"items add up to"), "Die Ausgaben sind zusammen höher als der ausgezahlte Betrag."),
    (re.compile(r"before the measure started"), "Das Datum liegt vor dem Beginn der Maßnahme."),
    (re.compile(r"rework needs a reason"), "Bitte angeben, was überarbeitet werden soll."),
    (re.compile(r"unknown receipt"), "Dieser Beleg gehört nicht zu dieser Maßnahme."),
    (re.compile(r"at least 1 item"), "Bitte mindestens eine Angabe machen."),
)


def german(msg: str) -> str:
    if any(ch in msg for ch in "äöüß") or msg.startswith(("Die ", "Nur ", "Bitte ")):
        return msg  # funding's reasons for refused receipts are German already
    for pattern, text in _GERMAN:
        if pattern.search(msg):
            return text
    return german_message(msg)


def parse_euro(text: str) -> int | None:
    """'1.234,56', '1234,5', '1234' or '1234.56' -> cents; None if it is no amount."""
    t = text.strip().replace("€", "").replace(" ", "")
    if not t:
        return None
    if "," in t:
        if not re.fullmatch(r"(\d{1,3}(\.\d{3})+|\d+),\d{1,2}", t):
            return None
        t = t.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"\d{1,3}(\.\d{3})+", t):
        t = t.replace(".", "")
    if not re.fullmatch(r"\d+(\.\d{1,2})?", t):
        return None
    whole, _, frac = t.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def euro_input(cents: Any) -> str:
    return "" if cents in (None, "") else f"{int(cents) / 100:.2f}".replace(".", ",")


def _field_of(loc: list[Any]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    if not parts:
        return "_"
    if parts[0] == "guidelines" and len(parts) > 1:
        return parts[1]
    if parts[0] == "budget_lines":
        if len(parts) > 2:
            return f"line_{'item' if parts[2] == 'item' else 'amount'}_{parts[1]}"
        return "line_item_0"
    if parts[0] == "amount_cents":
        return "line_amount_0"
    if parts[0] == "items":
        if len(parts) > 2:
            return f"item_{ {'purpose': 'purpose', 'amount_cents': 'amount', 'spent_on': 'date'}.get(parts[2], 'purpose') }_{parts[1]}"
        return "item_purpose_0"
    if parts[0] == "receipt_ids":
        return "belege"
    return parts[0]


def api_errors(answer: Any) -> dict[str, str]:
    detail = answer.body.get("detail") if isinstance(answer.body, dict) else None
    if isinstance(detail, list):
        out: dict[str, str] = {}
        for d in detail:
            out.setdefault(_field_of(list(d.get("loc", []))), german(str(d.get("msg", ""))))
        return out
    return {"_": german(str(detail or answer.body))}


def refusal(answer: Any) -> str:
    detail = answer.body.get("detail") if isinstance(answer.body, dict) else answer.body
    text = str(detail)
    if answer.status == 403:
        return "Nicht möglich: Dafür fehlt Ihnen die Berechtigung."
    if "drawdowns" in text and "does not allow" in text:
        return "Nicht möglich: Die Bewilligung sieht keine Auszahlung in Teilbeträgen vor."
    if "already settled" in text or "reclaimed twice" in text:
        return "Nicht möglich: Die Maßnahme ist bereits abgerechnet; es wird nichts zweimal zurückgebucht."
    if "after the proof of use is accepted" in text:
        return "Nicht möglich: Zurückgefordert wird erst nach Anerkennung des Verwendungsnachweises."
    if "no proof of use is waiting" in text or "not the proof of use under review" in text:
        return "Nicht möglich: Es liegt kein Verwendungsnachweis zur Prüfung vor (vielleicht hat ihn jemand anderes schon geprüft)."
    if "already been received" in text:
        return "Nicht möglich: Der Verwendungsnachweis liegt bereits zur Prüfung vor."
    return f"Nicht möglich: {german(text)}"


# ---- the organisation: applications -------------------------------------------------------------


@router.get("/verfuegungsfonds/antraege", response_class=HTMLResponse)
async def my_applications(request: Request, s: Applicant) -> HTMLResponse:
    items = checked(await backend(request).call(s, "funding", "GET", "/measures"))["applications"]
    return render(request, "portal_list.html", items=list(reversed(items)), **LABELS)


def _apply_page(request: Request, values: dict[str, Any], errors: dict[str, str], status: int = 200) -> HTMLResponse:
    return render(request, "portal_apply.html", status, values=values, errors=errors, lines=range(LINES), **LABELS)


@router.get("/verfuegungsfonds/antraege/neu", response_class=HTMLResponse)
async def new_application(request: Request, s: Applicant) -> HTMLResponse:
    return _apply_page(request, {"fields_of_action": []}, {})


@router.post("/verfuegungsfonds/antraege/neu", response_class=HTMLResponse)
async def submit_application(request: Request, s: Applicant) -> Response:
    form = await _form(request)
    text = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    values: dict[str, Any] = {**text, "fields_of_action": [str(v) for v in form.getlist("fields_of_action")]}
    errors: dict[str, str] = {}
    lines = []
    for i in range(LINES):
        item, amount = text.get(f"line_item_{i}", "").strip(), text.get(f"line_amount_{i}", "").strip()
        if not item and not amount:
            continue
        cents = parse_euro(amount)
        if cents is None:
            errors[f"line_amount_{i}"] = "Bitte einen Betrag in Euro angeben, z. B. 1.250,00."
        elif not item:
            errors[f"line_item_{i}"] = "Bitte die Kostenposition benennen."
        else:
            lines.append({"item": item, "amount_cents": cents})
    if not lines and not errors:
        errors["line_item_0"] = "Bitte mindestens eine Kostenposition mit Betrag angeben."
    fields = [int(v) for v in values["fields_of_action"] if v.isdigit()]
    if not fields:
        errors["fields_of_action"] = "Bitte mindestens ein Handlungsfeld wählen."
    if not text.get("contact_email", "").strip():
        errors["contact_email"] = "Bitte eine E-Mail-Adresse für Entscheidung und Erinnerungen angeben."
    if not text.get("area"):
        errors["area"] = "Bitte den Bereich wählen."
    if errors:
        return _apply_page(request, values, errors, 422)
    body = {
        "title": text.get("title", "").strip(), "provider": text.get("provider", "").strip(), "organisation_kind": text.get("organisation_kind", ""),
        "fields_of_action": fields, "target_group": text.get("target_group", "").strip(),
        "period_start": text.get("period_start", ""), "period_end": text.get("period_end", ""),
        "budget_lines": lines, "amount_cents": sum(line["amount_cents"] for line in lines),
        "over_limit_justification": text.get("over_limit_justification", "").strip() or None,
        "guidelines": {"refugees_target_group": text.get("refugees_target_group") == "ja", "new_approach": text.get("new_approach", "").strip(),
                       "lasting_integration": text.get("lasting_integration", "").strip()},
        "area": text.get("area"), "contact_email": text.get("contact_email", "").strip(),
        "drawdowns_requested": text.get("drawdowns_requested") == "ja",
    }
    answer = await backend(request).call(s, "funding", "POST", "/measures", json=body)
    if answer.status == 201:
        s.flash = "Ihr Antrag ist eingereicht. Die Lenkungsgruppe entscheidet in ihrer nächsten Sitzung."
        return see_other(f"/verfuegungsfonds/antraege/{answer.body['application_id']}")
    if answer.status == 422:
        return _apply_page(request, values, api_errors(answer), 422)
    raise ApiRefused(answer)


async def _measure(request: Request, s: Session, application_id: str) -> dict[str, Any]:
    aid = uuid_or_gone(application_id)
    return checked(await backend(request).call(s, "funding", "GET", f"/measures/{aid}"))


def _detail(request: Request, m: dict[str, Any], status: int = 200, errors: dict[str, str] | None = None,
            values: dict[str, Any] | None = None, refused: str | None = None) -> HTMLResponse:
    if values is None:
        values = {}
        for i, it in enumerate((m.get("proof_items") or [])[:ITEMS]):
            values.update({f"item_purpose_{i}": it["purpose"], f"item_amount_{i}": euro_input(it["amount_cents"]), f"item_date_{i}": it["spent_on"]})
        values["report"] = m.get("proof_report") or ""
        values["beleg"] = [r["receipt_id"] for r in m["receipts_list"]]
    drawn = sum(d["amount_cents"] for d in m["drawdowns"])
    return render(request, "portal_detail.html", status, m=m, errors=errors or {}, values=values, refused=refused, items=range(ITEMS),
                  drawn=drawn, can_draw=m["drawdowns_allowed"] and m["status"] in ("approved", "paid") and drawn < m["amount_cents"],
                  can_prove=m["status"] in ("paid", "rework_requested"), today=date.today().isoformat(), **LABELS)


@router.get("/verfuegungsfonds/antraege/{application_id}", response_class=HTMLResponse)
async def application(request: Request, application_id: str, s: Applicant) -> HTMLResponse:
    return _detail(request, await _measure(request, s, application_id))


@router.post("/verfuegungsfonds/antraege/{application_id}/abruf", response_class=HTMLResponse)
async def drawdown(request: Request, application_id: str, s: Applicant) -> Response:
    form = await _form(request)
    m = await _measure(request, s, application_id)
    cents = parse_euro(str(form.get("betrag", "")))
    if cents is None or cents == 0:
        return _detail(request, m, 422, {"betrag": "Bitte einen Betrag in Euro angeben, z. B. 1.500,00."}, {"betrag": str(form.get("betrag", ""))})
    answer = await backend(request).call(s, "funding", "POST", f"/measures/{m['application_id']}/drawdowns", json={"amount_cents": cents})
    if answer.status == 201:
        s.flash = f"Ihr Mittelabruf über {euro(cents)} ist angefordert; die Stadtkasse zahlt ihn aus."
        return see_other(f"/verfuegungsfonds/antraege/{m['application_id']}#abruf")
    if answer.status == 422:
        return _detail(request, m, 422, {"betrag": api_errors(answer).get("amount_cents") or next(iter(api_errors(answer).values()))},
                       {"betrag": str(form.get("betrag", ""))})
    if answer.status in (403, 409):
        return _detail(request, m, answer.status, refused=refusal(answer))
    raise ApiRefused(answer)


def proof_items(text: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The proof-of-use form's expense rows (purpose, amount, date; empty rows skipped) and the report,
    with a German message at each field that is missing."""
    errors: dict[str, str] = {}
    items = []
    for i in range(ITEMS):
        purpose, amount, on = (text.get(f"item_{k}_{i}", "").strip() for k in ("purpose", "amount", "date"))
        if not (purpose or amount or on):
            continue
        cents = parse_euro(amount)
        if not purpose:
            errors[f"item_purpose_{i}"] = "Bitte angeben, wofür das Geld ausgegeben wurde."
        if cents is None or cents == 0:
            errors[f"item_amount_{i}"] = "Bitte einen Betrag in Euro angeben, z. B. 250,00."
        if not on:
            errors[f"item_date_{i}"] = "Bitte das Datum der Ausgabe angeben."
        items.append({"purpose": purpose, "amount_cents": cents, "spent_on": on})
    if not items:
        errors["item_purpose_0"] = "Bitte mindestens eine Ausgabe mit Zweck, Betrag und Datum angeben."
    if not text.get("report", "").strip():
        errors["report"] = "Bitte kurz berichten, was mit dem Geld umgesetzt wurde."
    return items, errors


@router.post("/verfuegungsfonds/antraege/{application_id}/nachweis", response_class=HTMLResponse)
async def proof(request: Request, application_id: str, s: Applicant) -> Response:
    form = await _form(request)
    m = await _measure(request, s, application_id)
    aid = m["application_id"]
    text = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    chosen = [str(v) for v in form.getlist("beleg")]
    values: dict[str, Any] = {**text, "beleg": chosen}
    items, errors = proof_items(text)
    files = [f for f in form.getlist("belege") if isinstance(f, UploadFile) and f.filename]
    if not files and not chosen:
        errors["belege"] = "Bitte mindestens einen Beleg anhängen (PDF, PNG oder JPEG)."
    if errors:
        return _detail(request, m, 422, errors, values)
    api = backend(request)
    for f in files:  # each receipt is checked and stored by funding; a refused one stops the submission
        data = await f.read(30_000_000)
        answer = await api.call(s, "funding", "POST", f"/measures/{aid}/receipts",
                                files={"file": (f.filename, data, f.content_type or "application/octet-stream")})
        if answer.status == 201:
            chosen.append(answer.body["receipt_id"])
            continue
        if answer.status in (413, 422):
            m = await _measure(request, s, application_id)
            values["beleg"] = chosen
            return _detail(request, m, answer.status,
                           {"belege": f"„{f.filename}“: {api_errors(answer).get('file') or next(iter(api_errors(answer).values()))}"}, values)
        if answer.status in (403, 409):
            return _detail(request, m, answer.status, refused=refusal(answer))
        raise ApiRefused(answer)
    body = {"items": items, "report": text.get("report", "").strip(), "receipt_ids": list(dict.fromkeys(chosen))}
    answer = await api.call(s, "funding", "POST", f"/measures/{aid}/proof-of-use", json=body)
    if answer.status == 200:
        s.flash = "Ihr Verwendungsnachweis ist eingereicht. Die Geschäftsführung prüft ihn."
        return see_other(f"/verfuegungsfonds/antraege/{aid}")
    m = await _measure(request, s, application_id)
    values["beleg"] = chosen
    if answer.status == 422:
        return _detail(request, m, 422, api_errors(answer), values)
    if answer.status in (403, 409):
        return _detail(request, m, answer.status, values=values, refused=refusal(answer))
    raise ApiRefused(answer)


@router.get("/verfuegungsfonds/antraege/{application_id}/belege/{receipt_id}")
async def receipt(request: Request, application_id: str, receipt_id: str, s: Either) -> Response:
    aid, rid = uuid_or_gone(application_id), uuid_or_gone(receipt_id)
    r = await backend(request).raw(s, "funding", f"/measures/{aid}/receipts/{rid}")
    if r.status_code != 200:
        checked(Answer("funding", r.status_code, r.text))  # 403 and 404 pages
    return Response(r.content, media_type=r.headers.get("content-type", "application/octet-stream"),
                    headers={"Content-Disposition": r.headers.get("content-disposition", "attachment"), "Cache-Control": "no-store"})


# ---- the fund manager: reviewing proofs of use --------------------------------------------------

REVIEWABLE = ("proof_submitted", "rework_requested", "proof_accepted", "settled", "proof_received")


@router.get("/verfuegungsfonds/nachweise", response_class=HTMLResponse)
async def proofs(request: Request, s: Manager) -> HTMLResponse:
    items = checked(await backend(request).call(s, "funding", "GET", "/measures"))["applications"]
    order = {k: i for i, k in enumerate(REVIEWABLE)}
    mine = sorted((m for m in items if m["status"] in REVIEWABLE), key=lambda m: order[m["status"]])
    due = [m for m in items if m["status"] == "paid"]
    return render(request, "portal_proofs.html", items=mine, due=due, **LABELS)


def _review(request: Request, m: dict[str, Any], status: int = 200, errors: dict[str, str] | None = None,
            values: dict[str, str] | None = None, refused: str | None = None) -> HTMLResponse:
    spent = m.get("spent_cents") or 0
    returned, released = max(0, m["paid_cents"] - spent), max(0, m["amount_cents"] - m["paid_cents"])
    return render(request, "portal_review.html", status, m=m, errors=errors or {}, values=values or {}, refused=refused,
                  to_return=returned, to_release=released, **LABELS)


@router.get("/verfuegungsfonds/nachweise/{application_id}", response_class=HTMLResponse)
async def review_page(request: Request, application_id: str, s: Manager) -> HTMLResponse:
    return _review(request, await _measure(request, s, application_id))


@router.post("/verfuegungsfonds/nachweise/{application_id}/pruefung", response_class=HTMLResponse)
async def review(request: Request, application_id: str, s: Manager) -> Response:
    form = await _form(request)
    values = {k: str(form.get(k, "")) for k in ("entscheidung", "grund")}
    m = await _measure(request, s, application_id)
    errors: dict[str, str] = {}
    if values["entscheidung"] not in ("accept", "rework"):
        errors["entscheidung"] = "Bitte anerkennen oder Überarbeitung erbitten wählen."
    elif values["entscheidung"] == "rework" and not values["grund"].strip():
        errors["grund"] = "Bitte angeben, was überarbeitet werden soll."
    if errors:
        return _review(request, m, 422, errors, values)
    body = {"decision": values["entscheidung"], "reason": values["grund"].strip() or None}
    answer = await backend(request).call(s, "funding", "POST", f"/measures/{m['application_id']}/proof-of-use/review", json=body)
    if answer.status == 200:
        s.flash = ("Der Verwendungsnachweis ist anerkannt." if body["decision"] == "accept"
                   else "Die Organisation ist gebeten, den Verwendungsnachweis zu überarbeiten; sie erhält Ihre Begründung per E-Mail.")
        return see_other(f"/verfuegungsfonds/nachweise/{m['application_id']}")
    if answer.status == 422:
        found = api_errors(answer)
        return _review(request, m, 422, {"grund" if "reason" in found else "entscheidung": next(iter(found.values()))}, values)
    if answer.status in (403, 409):
        return _review(request, m, answer.status, values=values, refused=refusal(answer))
    raise ApiRefused(answer)


@router.post("/verfuegungsfonds/nachweise/{application_id}/rueckforderung", response_class=HTMLResponse)
async def reclaim(request: Request, application_id: str, s: Manager) -> Response:
    await _form(request)
    m = await _measure(request, s, application_id)
    answer = await backend(request).call(s, "funding", "POST", f"/measures/{m['application_id']}/proof-of-use/reclaim")
    if answer.status == 200:
        st = answer.body
        s.flash = (f"Abgerechnet: {euro(st['returned_cents'])} nicht verausgabt und {euro(st['released_cents'])} nicht abgerufen "
                   "fließen zurück in das Budget des Haushaltsjahres.")
        return see_other(f"/verfuegungsfonds/nachweise/{m['application_id']}")
    if answer.status in (403, 409):
        return _review(request, m, answer.status, refused=refusal(answer))
    raise ApiRefused(answer)
