"""services.kit.inputs.Input: JSON's true/false is no number and a number no true/false (422 naming the field)."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, ValidationError

from services.kit.inputs import Input


class Body(Input):
    cents: Annotated[int, Field(ge=0)]
    flag: bool = False
    share: float | None = None


class Nested(Body):
    extra: int = 0


class TestInput:
    @pytest.mark.parametrize(("data", "field"), [
        ({"cents": False}, "cents"), ({"cents": 1, "flag": 0}, "flag"), ({"cents": 1, "share": True}, "share"), ({"cents": 1, "extra": True}, "extra"),
    ])
    def test_a_swap_is_refused_naming_the_field(self, data: dict, field: str) -> None:
        with pytest.raises(ValidationError) as err:
            Nested.model_validate(data)
        assert [e["loc"] for e in err.value.errors()] == [(field,)]

    def test_right_types_and_numeric_strings_pass(self) -> None:
        assert Nested.model_validate({"cents": "3", "flag": True, "share": 0.5, "extra": 2}) == Nested(cents=3, flag=True, share=0.5, extra=2)
