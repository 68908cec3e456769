"""Canary scan in CI (issue 12 P1, P2; the long form with figures: `python -m bench.faults.canary_scan`):
a unique name, notes and a justification through intake, search, clearing with interview, casework
(notes, goals, referral, handover, closure), funding (application, decision) and reporting (the
statistics mailed only in the bench script, to keep CI short); before erasure the name is nowhere in plain text (every file of the
stack's data dir, every Redis stream); after erasure neither the name nor any of the free texts is, and
the KPI figures are unchanged."""

from __future__ import annotations

import pytest

from bench.faults.canary_scan import forms, scan_files, scan_flows
from tests.support.intake import publish_slots
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


class TestCanaryScan:
    async def test_the_name_only_in_intakes_sealed_store_and_no_free_text_left_after_erasure(self, stack: RunningStack) -> None:
        r = await scan_flows(stack, publish_slots, mail_report=False)  # the other e2e tests' slots; the mailed report only in the bench
        assert (r.p1.files, r.p1.streams) == ({}, {})
        assert r.p1.streams_scanned > 10  # the scan saw the streams (dead letters included when there are any)
        assert set(r.texts_before.files) >= {"casework.db", "funding.db"} or any(f.endswith("-wal") for f in r.texts_before.files)  # the scan sees texts
        assert (r.p2.files, r.p2.streams) == ({}, {})
        assert r.after == r.before


class TestTheScannerFindsWhatIsThere:
    def test_plain_casefolded_and_utf16_forms_are_found(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        (tmp_path / "a.db-wal").write_bytes(b"x" + "Kanarie".encode("utf-16-le"))
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "b.out").write_text("... kanarie ...")
        assert scan_files(tmp_path, ["Kanarie"]) == {"a.db-wal": 1, "logs/b.out": 1}
        assert len(forms("Kanarie")) == 9
