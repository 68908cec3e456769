"""Records of one tenant for the other-tenant attacks of auth_attacks.py: a referral to a partner
organisation, made the way staff make it (an intake, the case casework opens for it, the person's
consent, the caseworker's referral)."""

from __future__ import annotations

import asyncio
import time

from deploy.embedded import RunningStack

PERSON = {
    "given_name": "Kanarienvogel", "family_name": "Prüfling", "date_of_birth": "1990-04-02", "sex": "female", "relation": "head",
    "nationality": "SY", "languages": [{"code": "ar"}], "german_level": "A1", "literate": True, "schooling_years": 10,
    "highest_certificate": "secondary", "vocational_qualification": None, "work_experience_years": 5, "able_to_work": True,
    "wants_registration": True, "health_insurance": "statutory", "residence_status": "recognised_refugee", "move_in_date": "2026-11-02",
    "consents": [{"partner": "social_casework", "purpose": "counselling", "given_on": "2026-11-02"}],
}


async def given_intake(stack: RunningStack) -> tuple[str, str]:
    """(intake id, person id) of a household of one in district Westen, routed to casework."""
    async with stack.client("intake", "frontdesk") as c:
        r = await c.post("/intakes", json={"household": {"district": "Westen", "persons": [PERSON]}})
        r.raise_for_status()
        body = r.json()
    return str(body["intake_id"]), str(body["person_ids"][0])


async def referral_to(stack: RunningStack, partner: str, timeout_s: float = 120.0) -> str:
    """The id of a new referral of a new case's person to `partner`."""
    intake_id, person_id = await given_intake(stack)
    deadline = time.monotonic() + timeout_s
    async with stack.client("casework", "service") as c:
        while True:
            cases = (await c.get("/cases", params={"intake_id": intake_id})).json()
            if cases.get("total"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"casework opened no case for intake {intake_id} within {timeout_s} s")
            await asyncio.sleep(0.5)
        case = cases["cases"][0]
        caseworker = case.get("caseworker") or "caseworker"
    async with stack.client("casework", caseworker) as c:
        today = time.strftime("%Y-%m-%d")
        r = await c.post(f"/cases/{case['case_id']}/consents", json={"person_id": person_id, "partner": partner, "purpose": "referral", "given_on": today})
        r.raise_for_status()
        r = await c.post(f"/cases/{case['case_id']}/referrals", json={"person_id": person_id, "partner": partner, "note": None})
        r.raise_for_status()
        return str(r.json()["referral_id"])
