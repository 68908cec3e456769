"""The contracts between services: event envelope and events, stream names, activity and workflow models.

A leaf package: it imports only pydantic and the standard library, so workflow code and every service
can depend on it without pulling in a runtime.
"""

from services.contracts import events
from services.contracts.envelope import Event, all_events, event_for_stream

__all__ = ["Event", "all_events", "event_for_stream", "events"]
