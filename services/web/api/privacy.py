"""Web screens of the data protection officer ("Datenschutz"): the audit logs of all four services
searched by person, staff member and period, with a CSV export; and the access request under Art. 15
DSGVO ("Auskunft"): everything the city holds on one person from all services as one printable
document, also as JSON. Every search and every access request is audit-logged by the services."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.kit.auth import Role
from services.web.api.routes import Denied, backend, page, render
from services.web.backend import SERVICE_LABELS
from services.web.sessions import Session

router = APIRouter()
DPO = (Role.DATA_PROTECTION_OFFICER.value,)
CITY = ZoneInfo("Europe/Berlin")


def _criteria(person: str | None, actor: str | None, since: str | None, until: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The API's query parameters from the form; German messages per field."""
    params: dict[str, Any] = {"limit": 1000}
    errors: dict[str, str] = {}
    if person:
        try:
            params["person_id"] = str(uuid.UUID(person.strip()))
        except ValueError:
            errors["person"] = "Bitte geben Sie eine Personen-ID ein (wie 3f2c…-…)."
    if actor and actor.strip():
        params["actor"] = actor.strip()[:200]
    for name, value, shift in (("since", since, 0), ("until", until, 1)):
        if value:
            try:
                day = date.fromisoformat(value)
            except ValueError:
                errors[name] = "Bitte ein Datum angeben (TT.MM.JJJJ)."
                continue
            params[name] = datetime.combine(day + timedelta(days=shift), time(), CITY).isoformat()
    return params, errors


async def _search(request: Request, s: Session, params: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    entries, missing = [], []
    for service in SERVICE_LABELS:
        answer = await backend(request).call(s, service, "GET", "/audit", params=params)
        if answer.status == 403:
            raise Denied()
        if answer.status != 200:
            missing.append(service)
            continue
        entries += [{"service": service, **e} for e in answer.body["entries"]]
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries, missing


@router.get("/datenschutz", response_class=HTMLResponse)
async def audit_search(
    request: Request, s: Annotated[Session, Depends(page(*DPO))],
    person: Annotated[str | None, Query(max_length=64)] = None, actor: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[str | None, Query(max_length=10)] = None, until: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    searched = any((person, actor, since, until))
    params, errors = _criteria(person, actor, since, until)
    entries, missing = await _search(request, s, params) if searched and not errors else ([], [])
    wanted = {"person": person or "", "actor": actor or "", "since": since or "", "until": until or ""}
    return render(request, "dpo_audit.html", 422 if errors else 200, wanted=wanted, errors=errors, searched=searched and not errors,
                  entries=entries, missing=missing, services=SERVICE_LABELS, query=request.url.query)


@router.get("/datenschutz/protokoll.csv")
async def audit_export(
    request: Request, s: Annotated[Session, Depends(page(*DPO))],
    person: Annotated[str | None, Query(max_length=64)] = None, actor: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[str | None, Query(max_length=10)] = None, until: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    params, errors = _criteria(person, actor, since, until)
    entries, _ = await _search(request, s, params) if not errors else ([], [])
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Dienst", "Zeitpunkt", "Mitarbeitende", "Rolle", "Aktion", "Datensatzart", "Datensatz", "Ergebnis", "Laufende Nummer", "Trace-ID"])
    for e in entries:
        writer.writerow([e["service"], e["at"], e["actor"], e["role"], e["action"], e["record_type"], e["record_id"] or "", e["outcome"], e["seq"] or "",
                         e["trace_id"] or ""])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="zugriffsprotokoll.csv"'})


async def _access_request(request: Request, s: Session, person_id: uuid.UUID) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    for service in SERVICE_LABELS:
        answer = await backend(request).call(s, service, "GET", f"/data-subjects/{person_id}")
        if answer.status == 403:
            raise Denied()
        parts[service] = answer.body if answer.status == 200 else {"holds": "nicht erreichbar"}
    return {"person_id": str(person_id), "created_at": datetime.now(CITY).isoformat(timespec="seconds"), "services": parts}


@router.get("/datenschutz/auskunft", response_class=HTMLResponse)
async def access_request(
    request: Request, s: Annotated[Session, Depends(page(*DPO))], person: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    errors: dict[str, str] = {}
    document = None
    if person is not None:
        try:
            document = await _access_request(request, s, uuid.UUID(person.strip()))
        except ValueError:
            errors["person"] = "Bitte geben Sie eine Personen-ID ein (wie 3f2c…-…)."
    return render(request, "dpo_access.html", 422 if errors else 200, person=person or "", errors=errors, document=document,
                  services=SERVICE_LABELS, pretty=lambda v: json.dumps(v, ensure_ascii=False, indent=2))


@router.get("/datenschutz/auskunft/{person_id}.json")
async def access_request_json(request: Request, person_id: uuid.UUID, s: Annotated[Session, Depends(page(*DPO))]) -> Response:
    document = await _access_request(request, s, person_id)
    return Response(json.dumps(document, ensure_ascii=False, indent=2), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="auskunft-{person_id}.json"'})
