"""Reporting's activities implement the interfaces the workflows call (services/contracts/reporting_activities.py):
every stub has a method of ReportingActivities under the same activity name, with the same input and result types."""

from __future__ import annotations

import inspect
import typing

from temporalio import activity

from services.contracts import reporting_activities as interfaces
from services.reporting.activities import ReportingActivities


def _defs(fns: list) -> dict[str, object]:
    return {activity._Definition.must_from_callable(fn).name: fn for fn in fns}


def test_every_interface_is_implemented_under_its_name_with_its_types() -> None:
    stubs = _defs([f for _, f in inspect.getmembers(interfaces, inspect.isfunction) if hasattr(f, "__temporal_activity_definition")])
    impls = _defs([f for _, f in inspect.getmembers(ReportingActivities, inspect.isfunction) if hasattr(f, "__temporal_activity_definition")])
    assert set(stubs) == set(impls)
    for name, stub in stubs.items():
        want, got = typing.get_type_hints(stub), typing.get_type_hints(impls[name])
        assert want == got, name
