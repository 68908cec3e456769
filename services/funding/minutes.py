"""Minutes (Protokoll) of a steering-group meeting (002 §2): who was present, the quorum, each
application's vote with recusals, and the decision. Stored as JSON and as German text."""

from __future__ import annotations

from typing import Any

from services.contracts.funding_workflows import ConcludeMeetingInput, MeetingOutcome


def document(inp: ConcludeMeetingInput, outcome: MeetingOutcome, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "round_id": str(inp.round_id),
        "meeting_no": inp.meeting_no,
        "members": len(inp.members),
        "present": list(inp.present),
        "quorum": inp.quorum,
        "quorate": outcome.quorate,
        "closed_by": inp.closed_by,
        "items": items,
        "moved_to_next_meeting": [] if outcome.quorate else [str(a) for a in inp.pending],
        "outcome": outcome.model_dump(mode="json"),
    }


def _eur(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d} EUR".replace(",", "X").replace(".", ",").replace("X", ".")


def text(doc: dict[str, Any]) -> str:
    lines = [
        f"Protokoll der Sitzung der Lenkungsgruppe Nr. {doc['meeting_no']} (Runde {doc['round_id']})",
        "",
        "Anwesenheit",
        f"  Anwesend: {len(doc['present'])} von {doc['members']} Mitgliedern ({', '.join(doc['present']) or '-'})",
        f"  Beschlussfähigkeit: {'gegeben' if doc['quorate'] else 'nicht gegeben'} (erforderlich: {doc['quorum']})",
        "",
    ]
    if not doc["quorate"]:
        lines += ["Vertagung", f"  Die Anträge werden in der nächsten Sitzung beraten: {len(doc['moved_to_next_meeting'])} Anträge", ""]
    else:
        lines.append("Beschlüsse")
        for item in doc["items"]:
            decision = "bewilligt" if item["decision"] == "approved" else "abgelehnt"
            note = " (Budget erschöpft)" if item.get("note") == "budget_exhausted" else ""
            lines += [
                f"  Antrag {item['application_id']}: {item['title']} ({item['provider']}), {_eur(item['amount_cents'])}"
                + (" [über der Regelgrenze]" if item["flagged_over_limit"] else ""),
                f"    Abstimmung: {item['yes']} ja, {item['no']} nein, {item['abstentions']} Enthaltungen;"
                f" befangen: {', '.join(item['recused']) or 'niemand'}",
                f"    Beschluss: {decision}{note}",
            ]
        lines.append("")
    lines.append(f"Sitzung geschlossen von {doc['closed_by']}")
    return "\n".join(lines) + "\n"
