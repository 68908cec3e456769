"""Discretionary fund round screens (DOMAIN.md flow 6; 002 §2 and §5): the applications of the
Verfügungsfonds, forming a steering-group round (fund managers), registering presence with
conflicts of interest (recusal), voting, closing the meeting (quorum, decisions) and reading its
minutes, through funding's /measures and /rounds API. Quorum, recusal and majority are funding's
workflow rules; its refusals are shown in German."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from services.kit.auth import Role
from services.web.api.common import checked, german_message, uuid_or_gone
from services.web.api.funding import euro
from services.web.api.routes import CsrfFailed, backend, page, render, see_other, session_of
from services.web.backend import Answer
from services.web.sessions import Session

router = APIRouter()
ROUND = (Role.STEERING_MEMBER.value, Role.FUND_MANAGER.value, Role.FUND_APPLICANT.value)
Member = Annotated[Session, Depends(page(*ROUND))]
Steering = Annotated[Session, Depends(page(Role.STEERING_MEMBER.value))]
Manager = Annotated[Session, Depends(page(Role.FUND_MANAGER.value))]
Closer = Annotated[Session, Depends(page(Role.STEERING_MEMBER.value, Role.FUND_MANAGER.value))]
STATUS = {"submitted": "eingereicht", "in_round": "in der Beratung", "approved": "bewilligt", "rejected": "abgelehnt",
          "paid": "ausgezahlt", "proof_received": "Verwendungsnachweis liegt vor"}
VOTES = {"yes": "Ja", "no": "Nein", "abstain": "Enthaltung"}
KINDS = {"provider": "Träger", "initiative": "Initiative", "municipal_institution": "städtische Einrichtung"}


async def _form(request: Request) -> FormData:
    """The submitted form with its lists (multiple checkboxes), after the CSRF check of `form_of`."""
    form = await request.form()
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not secrets.compare_digest(sent, session_of(request).csrf):
        raise CsrfFailed()
    return form


def _refusal(answer: Any) -> str:
    detail = answer.body.get("detail") if isinstance(answer.body, dict) else answer.body
    if isinstance(detail, list):
        detail = "; ".join(str(d.get("msg", "")) for d in detail)
    text = str(detail)
    if "conflict" in text.lower() or "recused" in text.lower():
        return "Nicht möglich: Sie haben sich für diesen Antrag für befangen erklärt und stimmen nicht mit."
    if "not present" in text.lower() or "presence" in text.lower():
        return "Nicht möglich: Bitte zuerst die Anwesenheit eintragen."
    if "already" in text.lower():
        return "Nicht möglich: Das ist bereits erfasst."
    if "no longer open" in text:
        return "Nicht möglich: Die Runde ist abgeschlossen."
    return f"Nicht möglich: {german_message(text)}"


@router.get("/verfuegungsfonds", response_class=HTMLResponse)
async def overview(request: Request, s: Member) -> HTMLResponse:
    items = checked(await backend(request).call(s, "funding", "GET", "/measures"))["applications"]
    rounds: dict[str, list[dict[str, Any]]] = {}
    for m in items:
        if m["round_id"]:
            rounds.setdefault(m["round_id"], []).append(m)
    open_rounds = {rid: ms for rid, ms in rounds.items() if any(m["status"] == "in_round" for m in ms)}
    minutes = []  # a meeting's minutes exist once it is closed: every earlier meeting of an open round
    for rid, ms in rounds.items():
        last = max((m["meeting_no"] or 0) for m in ms) - (1 if rid in open_rounds else 0)
        minutes += [(rid, no) for no in range(1, last + 1)]
    submitted = [m for m in items if m["status"] == "submitted"]
    return render(request, "fund_rounds.html", items=items, submitted=submitted, open_rounds=open_rounds, minutes=minutes,
                  statuses=STATUS, votes=VOTES, kinds=KINDS, euro=euro, outcome=request.query_params.get("ergebnis"))


@router.post("/verfuegungsfonds/runden")
async def create_round(request: Request, s: Manager) -> Response:
    form = await _form(request)
    ids = [str(v) for v in form.getlist("antrag")]
    if not ids:
        s.flash = "Bitte mindestens einen Antrag für die Runde wählen."
        return see_other("/verfuegungsfonds")
    answer = await backend(request).call(s, "funding", "POST", "/rounds", json={"application_ids": ids})
    s.flash = f"Die Runde mit {len(ids)} Antr{'ag' if len(ids) == 1 else 'ägen'} ist gebildet." if answer.status == 201 else _refusal(checked_or(answer))
    return see_other("/verfuegungsfonds")


def checked_or(answer: Any) -> Any:
    if answer.status in (403, 409, 422):
        return answer
    checked(answer, 200, 201)
    return answer


@router.post("/verfuegungsfonds/runden/{round_id}/anwesenheit")
async def presence(request: Request, round_id: str, s: Steering) -> Response:
    form = await _form(request)
    rid = uuid_or_gone(round_id)
    conflicts = [str(v) for v in form.getlist("befangen")]
    answer = await backend(request).call(s, "funding", "POST", f"/rounds/{rid}/presence", json={"conflicts": conflicts})
    if answer.status == 200:
        s.flash = "Ihre Anwesenheit ist eingetragen" + (f"; befangen bei {len(conflicts)} Antr{'ag' if len(conflicts) == 1 else 'ägen'}." if conflicts else ".")
    else:
        s.flash = _refusal(checked_or(answer))
    return see_other("/verfuegungsfonds")


@router.post("/verfuegungsfonds/runden/{round_id}/stimme")
async def vote(request: Request, round_id: str, s: Steering) -> Response:
    form = await _form(request)
    rid = uuid_or_gone(round_id)
    application_id, choice = str(form.get("antrag", "")), str(form.get("stimme", ""))
    if choice not in VOTES:
        s.flash = "Bitte Ja, Nein oder Enthaltung wählen."
        return see_other("/verfuegungsfonds")
    answer = await backend(request).call(s, "funding", "POST", f"/rounds/{rid}/votes",
                                         json={"application_id": str(uuid_or_gone(application_id)), "vote": choice})
    s.flash = f"Ihre Stimme ({VOTES[choice]}) ist erfasst." if answer.status == 200 else _refusal(checked_or(answer))
    return see_other("/verfuegungsfonds")


@router.post("/verfuegungsfonds/runden/{round_id}/schliessen")
async def close(request: Request, round_id: str, s: Closer) -> Response:
    await _form(request)
    rid = uuid_or_gone(round_id)
    answer = await backend(request).call(s, "funding", "POST", f"/rounds/{rid}/close-meeting")
    if answer.status != 200:
        s.flash = _refusal(checked_or(answer))
        return see_other("/verfuegungsfonds")
    outcome = answer.body
    s.flash = (f"Sitzung {outcome['meeting_no']} geschlossen: beschlussfähig, {len(outcome['decided'])} Entscheidung(en)."
               if outcome["quorate"] else f"Sitzung {outcome['meeting_no']} geschlossen: nicht beschlussfähig; die Anträge gehen in die nächste Sitzung.")
    return see_other(f"/verfuegungsfonds/runden/{rid}/protokoll/{outcome['meeting_no']}")


@router.get("/verfuegungsfonds/runden/{round_id}/protokoll/{meeting_no}", response_class=HTMLResponse)
async def minutes(request: Request, round_id: str, meeting_no: int, s: Closer) -> HTMLResponse:
    rid: uuid.UUID = uuid_or_gone(round_id)
    r = await backend(request).raw(s, "funding", f"/rounds/{rid}/minutes/{meeting_no}", params={"format": "text"})
    if r.status_code != 200:
        checked(Answer("funding", r.status_code, r.text))  # 403 and 404 pages
    return render(request, "fund_minutes.html", text=r.text, meeting_no=meeting_no, round_id=str(rid))
