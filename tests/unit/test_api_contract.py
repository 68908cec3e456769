"""What schemathesis found in the four services' HTTP contract (issue 12, S1), each fixed and kept here:
undocumented error statuses and content types, a 400 for a body that is not UTF-8, and an `Allow`
header naming only some of a path's methods. The apps are the real ones, built and not started: none
of these answers needs a connection."""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.kit.migrations import SERVICES
from services.kit.service import create_app
from services.kit.settings import PlatformSettings


def app_of(service: str) -> FastAPI:
    return create_app(importlib.import_module(f"services.{service}.app").build(), PlatformSettings())


def operations(service: str) -> dict[tuple[str, str], dict[str, Any]]:
    doc = app_of(service).openapi()
    return {(m.upper(), p): op for p, ops in doc["paths"].items() for m, op in ops.items()}


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


class TestEveryOperationDeclaresItsErrorAnswers:
    @pytest.mark.parametrize("service", SERVICES)
    def test_signed_in_routes_declare_401_and_403_path_routes_404_writes_409_inputs_422(self, service: str) -> None:
        ops = operations(service)
        for (method, path), op in ops.items():
            if path in ("/", "/health", "/auth/token"):
                continue
            declared = set(op["responses"])
            assert {"401", "403"} <= declared, (method, path, declared)
            if "{" in path:
                assert {"404", "422"} <= declared, (method, path, declared)
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                assert "409" in declared, (method, path, declared)

    def test_the_error_bodies_are_described(self) -> None:
        doc = app_of("casework").openapi()
        assert doc["components"]["schemas"]["ErrorBody"]["required"] == ["detail", "code"]
        close = doc["paths"]["/cases/{id}/close"]["post"]["responses"]
        assert close["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
        assert close["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/HTTPValidationError"}

    def test_sign_in_declares_401(self) -> None:
        assert "401" in operations("intake")[("POST", "/auth/token")]["responses"]


class TestAnswersOtherThanTheDefaultAreDeclared:
    def test_idempotent_creations_declare_their_200(self) -> None:
        intake, reporting = operations("intake"), operations("reporting")
        assert {"200", "201"} <= set(intake[("POST", "/intakes")]["responses"])
        assert {"200", "201"} <= set(intake[("POST", "/intake-drafts/{id}/complete")]["responses"])
        assert {"200", "201"} <= set(intake[("POST", "/persons/{id}/registration")]["responses"])
        assert {"200", "201", "404"} <= set(reporting[("POST", "/reports")]["responses"])

    def test_files_declare_their_media_types(self) -> None:
        reporting, funding = operations("reporting"), operations("funding")
        assert set(reporting[("GET", "/gaps/heatmap.{fmt}")]["responses"]["200"]["content"]) == {"image/svg+xml", "image/png"}
        assert set(reporting[("GET", "/reports/{report_id}/files/{fmt}")]["responses"]["200"]["content"]) == {
            "application/pdf", "text/csv", "application/json", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        assert set(funding[("GET", "/measures/{id}/receipts/{receipt_id}")]["responses"]["200"]["content"]) == {
            "application/pdf", "image/png", "image/jpeg"}
        assert set(funding[("GET", "/rounds/{id}/minutes/{meeting_no}")]["responses"]["200"]["content"]) == {"application/json", "text/plain"}
        assert "413" in funding[("POST", "/measures/{id}/receipts")]["responses"]


class TestABodyThatIsNotUtf8:
    @pytest.mark.parametrize(("service", "path"), [("intake", "/intakes"), ("casework", "/caseworkers"), ("reporting", "/measures")])
    async def test_gets_422_naming_the_body(self, service: str, path: str) -> None:
        async with client(app_of(service)) as c:
            r = await c.post(path, content=b"\xc3\x28{", headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == [{"loc": ["body"], "msg": "The body is not JSON in UTF-8", "type": "json_invalid"}]


class TestBrokenMultipart:
    async def test_gets_422_naming_the_body(self) -> None:
        """The full run's finding: a receipt upload with a broken multipart body answered 400 (undeclared)."""
        body = b"--b0\r\nNone--b0--\r\n"
        async with client(app_of("funding")) as c:
            r = await c.post("/measures/3fa85f64-5717-4562-b3fc-2c963f66afa6/receipts", content=body,
                             headers={"Content-Type": "multipart/form-data; boundary=b0"})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body"] and r.json()["detail"][0]["msg"].startswith("The body cannot be read")


class TestMethodNotAllowed:
    async def test_allow_names_every_method_of_the_path(self) -> None:
        async with client(app_of("intake")) as c:
            slots = await c.options("/abra/slots")
            intake = await c.delete("/intakes/3fa85f64-5717-4562-b3fc-2c963f66afa6")
        assert slots.status_code == 405 and slots.headers["allow"] == "GET, POST"
        assert intake.status_code == 405 and intake.headers["allow"] == "GET, PUT"

    async def test_a_literal_path_names_only_its_own_methods(self) -> None:
        """`/intakes/duplicate-check` also matches `/intakes/{id}` (GET, PUT); its Allow names POST only."""
        async with client(app_of("intake")) as c:
            r = await c.options("/intakes/duplicate-check")
        assert r.status_code == 405 and r.headers["allow"] == "POST"


class TestIsoDateTime:
    def test_a_number_is_no_date_and_time(self) -> None:
        from pydantic import TypeAdapter, ValidationError

        from services.kit.params import IsoDateTime

        adapter = TypeAdapter(IsoDateTime)
        assert adapter.validate_python("2026-12-07T09:00:00+01:00").utcoffset() is not None
        for number in ("0.5", "1700000000", " 12 "):
            with pytest.raises(ValidationError):
                adapter.validate_python(number)
