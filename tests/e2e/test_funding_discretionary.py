"""Discretionary fund (Verfügungsfonds) scenarios through the real stack (issue 5 acceptance; DOMAIN.md
flow 6; seed 002 §2 and §5): a steering-group round with a quorum failure and a decision with a
recused member, and a late proof of use with reminders, escalation and money returned."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from services.contracts.funding import MeasureDecided, MeetingQuorumFailed
from tests.support.eventually import eventually
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


def measure(title: str, amount_cents: int, *, ends_in_days: int = 90, **extra: Any) -> dict[str, Any]:
    today = date.today()
    return {
        "title": title, "provider": "Flüchtlingshilfe e.V.", "organisation_kind": "initiative", "fields_of_action": [1, 5],
        "target_group": "geflüchtete Jugendliche", "period_start": today.isoformat(), "period_end": (today + timedelta(days=ends_in_days)).isoformat(),
        "budget_lines": [{"item": "Honorare", "amount_cents": amount_cents - 10_000}, {"item": "Material", "amount_cents": 10_000}],
        "amount_cents": amount_cents,
        "guidelines": {"refugees_target_group": True, "new_approach": "Peer-Mentoring", "lasting_integration": "Vereinsmitgliedschaft"},
        **extra,
    }


async def call(stack: RunningStack, user: str, method: str, path: str, body: Any = None) -> httpx.Response:
    async with stack.client("funding", user) as c:
        return await c.request(method, path, json=body)


async def apply(stack: RunningStack, body: dict[str, Any]) -> str:
    r = await call(stack, "org1", "POST", "/measures", body)
    assert r.status_code == 201, r.text
    return r.json()["application_id"]


async def discretionary(stack: RunningStack) -> dict[str, int]:
    r = await call(stack, "fundmanager", "GET", f"/budgets/discretionary/{date.today().year}/balance")
    assert r.status_code == 200, r.text
    return r.json()


async def present(stack: RunningStack, round_id: str, member: str, conflicts: list[str] = ()) -> None:  # type: ignore[assignment]
    r = await call(stack, member, "POST", f"/rounds/{round_id}/presence", {"conflicts": list(conflicts)})
    assert r.status_code == 200, r.text


async def vote(stack: RunningStack, round_id: str, member: str, application_id: str, v: str) -> httpx.Response:
    return await call(stack, member, "POST", f"/rounds/{round_id}/votes", {"application_id": application_id, "vote": v})


async def events_for(stack: RunningStack, stream: str, needle: str) -> list[bytes]:
    entries = await Redis.from_url(stack.redis_url).xrange(stream)
    return [e[b"__data__"] for _, e in entries if needle.encode() in e[b"__data__"]]


class TestApplications:
    async def test_above_5000_eur_needs_a_written_justification_and_is_flagged(self, stack: RunningStack) -> None:
        r = await call(stack, "org1", "POST", "/measures", measure("Sprachcafé", 600_000))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "over_limit_justification"], r.text
        r = await call(stack, "org1", "POST", "/measures", measure("Sprachcafé", 600_000, over_limit_justification="Zwei Standorte"))
        assert r.status_code == 201 and r.json()["flagged_over_limit"] is True

    @pytest.mark.parametrize(
        ("change", "loc"),
        [
            ({"fields_of_action": [19]}, ["body", "fields_of_action", 0]),
            ({"amount_cents": 123_456}, ["body", "amount_cents"]),
            ({"period_end": "2000-01-01"}, ["body", "period_end"]),
            ({"organisation_kind": "company"}, ["body", "organisation_kind"]),
        ],
        ids=["field-of-action-19", "amount-not-sum-of-lines", "ends-before-start", "unknown-kind"],
    )
    async def test_bad_input_is_422_naming_the_field_and_changes_nothing(self, stack: RunningStack, change: dict[str, Any], loc: list[Any]) -> None:
        before = len((await call(stack, "fundmanager", "GET", "/measures")).json()["applications"])
        r = await call(stack, "org1", "POST", "/measures", {**measure("Kurs", 100_000), **change})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, r.text
        assert len((await call(stack, "fundmanager", "GET", "/measures")).json()["applications"]) == before

    async def test_organisations_see_only_their_own_applications(self, stack: RunningStack) -> None:
        mine = await apply(stack, measure("Nachhilfe", 200_000))
        assert (await call(stack, "org2", "GET", f"/measures/{mine}")).status_code == 403
        assert mine not in {a["application_id"] for a in (await call(stack, "org2", "GET", "/measures")).json()["applications"]}
        assert (await call(stack, "org1", "GET", f"/measures/{mine}")).status_code == 200


class TestMemberRegister:
    async def test_fund_managers_keep_the_register_and_members_read_it(self, stack: RunningStack) -> None:
        r = await call(stack, "steering1", "GET", "/steering-members")
        assert {m["username"] for m in r.json() if m["active"]} >= {f"steering{i}" for i in range(1, 8)}
        assert (await call(stack, "steering1", "PUT", "/steering-members/steering8", {"active": True})).status_code == 403
        r = await call(stack, "fundmanager", "PUT", "/steering-members/steering8", {"active": False})
        assert r.status_code == 200 and r.json() == {"username": "steering8", "active": False}
        assert {"username": "steering8", "active": False} in (await call(stack, "steering1", "GET", "/steering-members")).json()


class TestSteeringGroupRound:
    async def test_six_applications_quorum_failure_then_decision_with_a_recused_member(self, stack: RunningStack) -> None:
        apps = [await apply(stack, measure(f"Maßnahme {i}", 300_000 + i * 10_000)) for i in range(5)]
        apps.append(await apply(stack, measure("Großprojekt", 700_000, over_limit_justification="Stadtweit")))
        before = await discretionary(stack)
        r = await call(stack, "fundmanager", "POST", "/rounds", {"application_ids": apps})
        assert r.status_code == 201, r.text
        round_id = r.json()["round_id"]

        # meeting 1: 3 of 7 members present, quorum is 4
        for m in ("steering1", "steering2", "steering3"):
            await present(stack, round_id, m)
        assert (await call(stack, "steering4", "POST", f"/rounds/{round_id}/votes", {"application_id": apps[0], "vote": "yes"})).status_code == 403
        r = await call(stack, "fundmanager", "POST", f"/rounds/{round_id}/close-meeting")
        assert r.status_code == 200 and r.json() == {"meeting_no": 1, "quorate": False, "decided": {}}, r.text
        assert await eventually(lambda: _nonempty(events_for(stack, MeetingQuorumFailed.stream, round_id)))
        statuses = {(await call(stack, "org1", "GET", f"/measures/{a}")).json()["meeting_no"] for a in apps}
        assert statuses == {2}  # moved to the next meeting

        # meeting 2: 5 present; steering5 has a conflict of interest in apps[0]
        for m in ("steering1", "steering2", "steering3", "steering4"):
            await present(stack, round_id, m)
        await present(stack, round_id, "steering5", conflicts=[apps[0]])
        assert (await vote(stack, round_id, "steering5", apps[0], "yes")).status_code == 403  # recused
        plan = {
            apps[0]: {"steering1": "yes", "steering2": "yes", "steering3": "no", "steering4": "yes"},  # 3 of 4 eligible
            apps[1]: {"steering1": "yes", "steering2": "yes", "steering3": "yes", "steering4": "no", "steering5": "no"},
            apps[2]: {"steering1": "yes", "steering2": "yes", "steering3": "no", "steering4": "no", "steering5": "abstain"},  # 2 of 5: rejected
            apps[3]: {"steering1": "yes", "steering2": "yes", "steering3": "yes"},  # 3 of 5
            apps[4]: {"steering1": "yes", "steering2": "yes"},  # 2 of 5, others silent: rejected
            apps[5]: {m: "yes" for m in ("steering1", "steering2", "steering3", "steering4", "steering5")},
        }
        for app, votes in plan.items():
            for member, v in votes.items():
                r = await vote(stack, round_id, member, app, v)
                assert r.status_code == 200, r.text
        assert (await vote(stack, round_id, "steering1", apps[0], "no")).status_code == 409  # votes once
        r = await call(stack, "steering1", "POST", f"/rounds/{round_id}/close-meeting")
        assert r.status_code == 200, r.text
        expected = {apps[0]: "approved", apps[1]: "approved", apps[2]: "rejected", apps[3]: "approved", apps[4]: "rejected", apps[5]: "approved"}
        assert r.json() == {"meeting_no": 2, "quorate": True, "decided": expected}

        approved_sum = sum(300_000 + i * 10_000 for i in (0, 1, 3)) + 700_000
        after = await discretionary(stack)
        assert after["approved_cents"] == before["approved_cents"] + approved_sum
        assert after["available_cents"] == before["available_cents"] - approved_sum

        doc = (await call(stack, "steering2", "GET", f"/rounds/{round_id}/minutes/2")).json()
        first = next(i for i in doc["items"] if i["application_id"] == apps[0])
        assert first["recused"] == ["steering5"] and first["yes"] == 3 and first["abstentions"] == 0
        assert doc["present"] == ["steering1", "steering2", "steering3", "steering4", "steering5"]
        async with stack.client("funding", "steering2") as c:
            text = (await c.get(f"/rounds/{round_id}/minutes/1", params={"format": "text"})).text
            assert "Beschlussfähigkeit: nicht gegeben" in text and "Vertagung" in text
            text = (await c.get(f"/rounds/{round_id}/minutes/2", params={"format": "text"})).text
        assert "Beschlüsse" in text and "befangen: steering5" in text and "[über der Regelgrenze]" in text
        decided = await eventually(lambda: _count(events_for(stack, MeasureDecided.stream, round_id), 6))
        assert len(decided) == 6


async def _nonempty(coro: Any) -> list[bytes]:
    found = await coro
    assert found
    return found


async def _count(coro: Any, n: int) -> list[bytes]:
    found = await coro
    assert len(found) == n
    return found


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def upload(stack: RunningStack, user: str, app: str, name: str, data: bytes, content_type: str = "application/pdf") -> httpx.Response:
    async with stack.client("funding", user) as c:
        return await c.post(f"/measures/{app}/receipts", files={"file": (name, data, content_type)})


def item(purpose: str, cents: int, on: date | None = None) -> dict[str, Any]:
    return {"purpose": purpose, "amount_cents": cents, "spent_on": (on or date.today()).isoformat()}


async def approved(stack: RunningStack, body: dict[str, Any]) -> str:
    """An application the steering group approved (4 of 7 present, all yes)."""
    app = await apply(stack, body)
    round_id = (await call(stack, "fundmanager", "POST", "/rounds", {"application_ids": [app]})).json()["round_id"]
    for m in ("steering1", "steering2", "steering3", "steering4"):
        await present(stack, round_id, m)
        assert (await vote(stack, round_id, m, app, "yes")).status_code == 200
    assert (await call(stack, "fundmanager", "POST", f"/rounds/{round_id}/close-meeting")).json()["decided"] == {app: "approved"}
    return app


def mails_to(stack: RunningStack, address: str) -> list[Any]:
    import email
    import email.policy

    found = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted((stack.data_dir / "mail").glob("*.eml"))]
    return [m for m in found if m["To"] == address]


def contact() -> str:
    import uuid

    return f"kontakt-{uuid.uuid4().hex[:8]}@fluechtlingshilfe.example"


class TestProofOfUse:
    async def test_late_proof_of_use_after_reminders_and_escalation_returns_300_eur_once_accepted(self, stack: RunningStack) -> None:
        address = contact()
        app = await approved(stack, measure("Theaterprojekt", 200_000, ends_in_days=10, contact_email=address))
        waiting = (await call(stack, "paymentofficer", "GET", "/payments")).json()["payments"]
        assert [(p["kind"], p["title"], p["amount_cents"]) for p in waiting if p["application_id"] == app] == [("measure", "Theaterprojekt", 200_000)]
        r = await call(stack, "paymentofficer", "POST", f"/measures/{app}/payout")
        assert r.status_code == 200 and r.json()["status"] == "paid", r.text
        done = (await call(stack, "paymentofficer", "GET", "/payments?state=done")).json()["payments"]
        assert [p["paid_by"] for p in done if p["application_id"] == app] == ["paymentofficer"]
        due = date.fromisoformat(r.json()["proof_due_on"])
        assert due > date.today() + timedelta(days=90)
        before = await discretionary(stack)

        assert await stack.fast_forward(f"proof-of-use-{app}", timedelta(days=(due - date.today()).days + 5))

        async def reminded_and_escalated() -> None:
            mine = (await call(stack, "org1", "GET", f"/alerts?subject_id={app}")).json()
            assert sorted(a["kind"] for a in mine) == ["proof_of_use_reminder_1w", "proof_of_use_reminder_4w"]
            assert all(a["assignee"] == "org1" for a in mine)
            managers = (await call(stack, "fundmanager", "GET", f"/alerts?subject_id={app}")).json()
            assert [a["kind"] for a in managers] == ["proof_of_use_overdue"]

        await eventually(reminded_and_escalated, timeout=20)

        async def reminder_mails() -> None:
            subjects = sorted(m["Subject"] for m in mails_to(stack, address))
            assert len([s for s in subjects if s.startswith("Erinnerung: Verwendungsnachweis „Theaterprojekt“")]) == 2, subjects

        await eventually(reminder_mails, timeout=20)
        receipt = (await upload(stack, "org1", app, "quittung.pdf", PDF)).json()["receipt_id"]
        proof = {"items": [item("Honorare", 150_000), item("Kostüme", 20_000)], "report": "Drei Aufführungen", "receipt_ids": [receipt]}
        r = await call(stack, "org1", "POST", f"/measures/{app}/proof-of-use", proof)
        assert r.status_code == 200, r.text
        assert r.json()["returned_cents"] == 0 and r.json()["days_late"] > 0
        assert (await discretionary(stack))["returned_cents"] == before["returned_cents"]  # nothing returns before the review
        assert [a["kind"] for a in (await call(stack, "fundmanager", "GET", f"/alerts?subject_id={app}")).json()] == ["proof_of_use_review"]
        assert (await call(stack, "fundmanager", "POST", f"/measures/{app}/proof-of-use/review", {"decision": "accept"})).json()["status"] == "proof_accepted"
        r = await call(stack, "fundmanager", "POST", f"/measures/{app}/proof-of-use/reclaim")
        assert r.status_code == 200 and r.json()["returned_cents"] == 30_000, r.text
        after = await discretionary(stack)
        assert after["returned_cents"] == before["returned_cents"] + 30_000
        assert after["available_cents"] == before["available_cents"] + 30_000
        assert (await call(stack, "fundmanager", "GET", f"/alerts?subject_id={app}")).json() == []
        r = await call(stack, "org1", "POST", f"/measures/{app}/proof-of-use", proof)
        assert r.status_code == 409


class TestApplicantPortal:
    """Issue 14: apply -> steering decision -> drawdowns -> proof with items and a receipt -> rework ->
    resubmission -> acceptance -> reclaim, with the budget's figures, refused uploads and the mails."""

    async def test_drawdowns_proof_rework_acceptance_and_reclaim_with_the_budget_right(self, stack: RunningStack) -> None:
        address = contact()
        year = date.today().year
        start = await discretionary(stack)
        app = await approved(stack, measure("Elterncafé mit Deutschkurs", 400_000, contact_email=address, area="school_projects", drawdowns_requested=True))
        record = (await call(stack, "org1", "GET", f"/measures/{app}")).json()
        assert (record["drawdowns_allowed"], record["area"], record["contact_email"]) == (True, "school_projects", address)
        assert (await call(stack, "org2", "GET", f"/measures/{app}")).status_code == 403

        async def decision_mail() -> None:
            (m,) = mails_to(stack, address)
            assert m["Subject"] == "Verfügungsfonds: Ihre Maßnahme „Elterncafé mit Deutschkurs“ ist bewilligt"
            assert "Teilbeträgen" in m.get_content() and m["Message-ID"].startswith("<funding-mail-")

        await eventually(decision_mail, timeout=20)
        # not paid at once: the payment officer waits for drawdowns
        assert app not in {p["application_id"] for p in (await call(stack, "paymentofficer", "GET", "/payments")).json()["payments"]}
        assert (await call(stack, "paymentofficer", "POST", f"/measures/{app}/payout")).status_code == 409

        # drawdowns: never more than granted in sum
        r = await call(stack, "org1", "POST", f"/measures/{app}/drawdowns", {"amount_cents": 150_000})
        assert r.status_code == 201, r.text
        first = r.json()["drawdown_id"]
        r = await call(stack, "org1", "POST", f"/measures/{app}/drawdowns", {"amount_cents": 250_001})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "amount_cents"], r.text
        assert (await call(stack, "org2", "POST", f"/measures/{app}/drawdowns", {"amount_cents": 1})).status_code == 403
        open_ = (await call(stack, "paymentofficer", "GET", "/payments")).json()["payments"]
        assert [(p["kind"], p["drawdown_id"], p["amount_cents"]) for p in open_ if p["application_id"] == app] == [("drawdown", first, 150_000)]
        r = await call(stack, "paymentofficer", "POST", f"/measures/{app}/drawdowns/{first}/payout")
        assert r.status_code == 200 and r.json()["status"] == "paid", r.text
        assert (await call(stack, "paymentofficer", "POST", f"/measures/{app}/drawdowns/{first}/payout")).json()["status"] == "paid"  # once
        second = (await call(stack, "org1", "POST", f"/measures/{app}/drawdowns", {"amount_cents": 100_000})).json()["drawdown_id"]
        assert (await call(stack, "paymentofficer", "POST", f"/measures/{app}/drawdowns/{second}/payout")).status_code == 200
        record = (await call(stack, "org1", "GET", f"/measures/{app}")).json()
        assert (record["status"], record["paid_cents"]) == ("paid", 250_000)
        assert (await discretionary(stack))["paid_cents"] == start["paid_cents"] + 250_000

        # bad uploads: refused with a German reason, nothing stored
        r = await upload(stack, "org1", app, "rechnung.pdf", b"MZ\x90\x00" + b"\x00" * 200)  # a program named .pdf, sent as application/pdf
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"], r.text
        assert "Nur PDF-, PNG- oder JPEG-Dateien" in r.json()["detail"][0]["msg"]
        r = await upload(stack, "org1", app, "scan.jpg", b"\xff\xd8\xff" + b"\x00" * 5_000_000, "image/jpeg")
        assert r.status_code == 413 and "zu groß" in r.json()["detail"][0]["msg"], r.text
        assert (await upload(stack, "org2", app, "x.pdf", PDF)).status_code == 403
        assert (await call(stack, "org1", "GET", f"/measures/{app}")).json()["receipts_list"] == []
        r = await upload(stack, "org1", app, "rechnung.pdf", PDF)
        assert r.status_code == 201 and r.json()["media_type"] == "application/pdf", r.text
        receipt = r.json()["receipt_id"]
        assert len(r.json()["sha256"]) == 64
        async with stack.client("funding", "fundmanager") as c:
            got = await c.get(f"/measures/{app}/receipts/{receipt}")
            assert got.status_code == 200 and got.content == PDF and got.headers["content-type"] == "application/pdf"

        # the proof of use: more than paid out is refused at items; then submitted
        too_much = {"items": [item("Honorar Kursleitung", 200_000), item("Material", 50_001)], "report": "Zehn Termine", "receipt_ids": [receipt]}
        r = await call(stack, "org1", "POST", f"/measures/{app}/proof-of-use", too_much)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "items"], r.text
        proof = {"items": [item("Honorar Kursleitung", 150_000), item("Material", 30_000)], "report": "Zehn Termine", "receipt_ids": [receipt]}
        r = await call(stack, "org1", "POST", f"/measures/{app}/proof-of-use", proof)
        assert r.status_code == 200 and r.json()["spent_cents"] == 180_000, r.text
        assert (await call(stack, "org1", "POST", f"/measures/{app}/drawdowns", {"amount_cents": 1})).status_code == 409  # no drawdowns after the proof

        # rework with a reason, seen by the organisation and mailed; then resubmitted
        r = await call(stack, "fundmanager", "POST", f"/measures/{app}/proof-of-use/review", {"decision": "rework"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"], r.text
        reason = "Bitte die Rechnung der Kursleitung statt der Quittung beifügen."
        r = await call(stack, "fundmanager", "POST", f"/measures/{app}/proof-of-use/review", {"decision": "rework", "reason": reason})
        assert r.status_code == 200 and r.json()["status"] == "rework_requested", r.text
        record = (await call(stack, "org1", "GET", f"/measures/{app}")).json()
        assert (record["status"], record["rework_reason"]) == ("rework_requested", reason)

        async def rework_mail() -> None:
            subjects = [m["Subject"] for m in mails_to(stack, address)]
            assert "Verfügungsfonds: Verwendungsnachweis „Elterncafé mit Deutschkurs“ bitte überarbeiten" in subjects
            assert any(reason in m.get_content() for m in mails_to(stack, address))

        await eventually(rework_mail, timeout=20)
        invoice = (await upload(stack, "org1", app, "rechnung-kursleitung.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")).json()["receipt_id"]
        proof = {"items": [item("Honorar Kursleitung", 170_000), item("Material", 30_000)], "report": "Zehn Termine", "receipt_ids": [receipt, invoice]}
        r = await call(stack, "org1", "POST", f"/measures/{app}/proof-of-use", proof)
        assert r.status_code == 200 and r.json()["spent_cents"] == 200_000, r.text

        # accepted, then the unspent (paid 2,500 - spent 2,000) returns and the undrawn 1,500 is released, once
        r = await call(stack, "fundmanager", "POST", f"/measures/{app}/proof-of-use/review", {"decision": "accept"})
        assert r.status_code == 200 and (r.json()["status"], r.json()["version"]) == ("proof_accepted", 2), r.text
        r = await call(stack, "fundmanager", "POST", f"/measures/{app}/proof-of-use/reclaim")
        assert r.status_code == 200 and (r.json()["returned_cents"], r.json()["released_cents"]) == (50_000, 150_000), r.text
        assert (await call(stack, "fundmanager", "POST", f"/measures/{app}/proof-of-use/reclaim")).status_code == 409
        end = await discretionary(stack)
        assert end["paid_cents"] - start["paid_cents"] == 250_000
        assert end["returned_cents"] - start["returned_cents"] == 50_000
        assert end["approved_cents"] - start["approved_cents"] == 400_000 - 150_000
        assert start["available_cents"] - end["available_cents"] == 200_000  # exactly what was spent
        assert (await call(stack, "fundmanager", "GET", f"/budgets/discretionary/{year}/reconciliation")).json()["matches"] is True
        record = (await call(stack, "org1", "GET", f"/measures/{app}")).json()
        assert (record["status"], record["spent_cents"], record["returned_cents"], record["released_cents"]) == ("settled", 200_000, 50_000, 150_000)
        assert [r["proof_version"] for r in record["receipts_list"]] == [1, 2]
        kinds = [m["kind"] for m in (await call(stack, "org1", "GET", f"/measures/{app}/mails")).json()]
        assert kinds == ["decision", "rework"]
        for path in [*(stack.data_dir / "traces").rglob("*.jsonl"), *(stack.data_dir / "logs").rglob("*")]:  # no contact in spans or logs
            if path.is_file():
                assert address not in path.read_text(errors="replace"), path
