"""The event envelope every event between services carries.

Events are facts in the past tense, frozen, and identified on the wire by `event_type` and
`schema_version`, never by a Python path. They carry pseudonymous ids (random UUIDs) and coarse,
non-identifying attributes only (ARCHITECTURE.md "How services talk"): never a name, birth date,
address, nationality of a named person, health data or case notes.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

_registry: dict[str, type[Event]] = {}


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Envelope fields shared by all events; subclasses add their pseudonymous subject ids and facts.

    A subclass declares `producer` (the owning service) and gets its stream name
    `<producer>.<event-name>.v<schema_version>` and its `event_type` (the class name) derived.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    producer: ClassVar[str]
    version: ClassVar[int] = 1
    stream: ClassVar[str]

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique per event; the idempotency key of every consumer.")
    event_type: str = Field(description="The event's name, e.g. IntakeCompleted.")
    schema_version: int = Field(description="Version of this event's schema; part of the stream name.")
    occurred_at: AwareDatetime = Field(default_factory=utc_now, description="When the fact happened, UTC.")
    tenant: str = Field(min_length=1, max_length=64, description="The municipality this fact belongs to.")
    correlation_id: uuid.UUID = Field(description="Id of the business transaction this event is part of (e.g. the intake id).")
    causation_id: uuid.UUID | None = Field(default=None, description="event_id of the event that caused this one, if any.")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "producer" not in cls.__dict__:
            return  # an intermediate base, not a concrete event
        cls.stream = f"{cls.producer}.{_kebab(cls.__name__)}.v{cls.version}"
        cls.model_fields["event_type"].default = cls.__name__
        cls.model_fields["schema_version"].default = cls.version
        cls.model_rebuild(force=True)
        if cls.stream in _registry and _registry[cls.stream] is not cls:
            raise TypeError(f"two events claim stream {cls.stream}")
        _registry[cls.stream] = cls

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("event_type")
    @classmethod
    def _matches_class(cls, value: str) -> str:
        if "producer" in cls.__dict__ and value != cls.__name__:
            raise ValueError(f"event_type must be {cls.__name__}")
        return value

    @field_validator("schema_version")
    @classmethod
    def _matches_version(cls, value: int) -> int:
        if "producer" in cls.__dict__ and value != cls.version:
            raise ValueError(f"schema_version must be {cls.version}")
        return value


def all_events() -> dict[str, type[Event]]:
    """Every registered event class by stream name."""
    return dict(_registry)


def event_for_stream(stream: str) -> type[Event]:
    return _registry[stream]
