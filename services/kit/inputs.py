"""The base of request bodies: JSON's true/false is no number, and a number is no true/false.

Pydantic's lax mode turns `false` into 0 for an int field and 0 into False for a bool field, so
`PUT /budgets/hardship/2026 {"amount_cents": false}` set a budget of 0 and `{"on_leave": 0}` was taken
as false; schemathesis found both (issue 12, S1: negative data accepted). A request model derived from
`Input` answers 422 naming the field instead. Strings for numbers stay accepted as before (forms)."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationInfo, field_validator


def _kinds(annotation: Any) -> set[Any]:
    """The plain types an annotation admits (Optional, unions and Annotated unwrapped), None left out."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_kinds(a) for a in typing.get_args(annotation)))
    return set() if annotation is type(None) else {annotation}


class Input(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_number_swap(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        kinds = _kinds(field.annotation) if field is not None else set()
        if isinstance(value, bool) and kinds and kinds <= {int, float}:
            raise ValueError("a number is required, not true or false")
        if isinstance(value, int | float) and not isinstance(value, bool) and kinds == {bool}:
            raise ValueError("true or false is required, not a number")
        return value
