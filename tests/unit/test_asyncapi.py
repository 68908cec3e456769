"""The committed AsyncAPI document is the one the contracts generate (run `ankommen asyncapi`)."""

from deploy import asyncapi
from deploy.cli import ASYNCAPI_PATH


class TestAsyncApi:
    def test_committed_document_is_current(self) -> None:
        assert ASYNCAPI_PATH.read_text(encoding="utf-8") == asyncapi.render(), "run `ankommen asyncapi` and commit docs/asyncapi.yaml"

    def test_every_stream_is_a_channel_with_its_producer_and_consumers(self) -> None:
        doc = asyncapi.document()
        addresses = {c["address"] for c in doc["channels"].values()}
        assert {"intake.intake-completed.v1", "casework.case-opened.v1", "casework.review-due.v1"} <= addresses
        ops = doc["operations"]
        assert ops["intake_sends_intake_intake_completed_v1"]["action"] == "send"
        assert ops["casework_receives_intake_intake_completed_v1"]["action"] == "receive"
        assert ops["reporting_receives_casework_case_opened_v1"]["action"] == "receive"
