"""All events between services, by producer. Import from here or from the producer's module.

Only the producer builds its events. Every field is either a pseudonymous id or a coarse attribute
(district, programme, counts, categories) that does not identify a person.
"""

from __future__ import annotations

from services.contracts.casework import *  # noqa: F403
from services.contracts.envelope import Event, all_events, event_for_stream  # noqa: F401
from services.contracts.funding import *  # noqa: F403
from services.contracts.intake import *  # noqa: F403
from services.contracts.reporting import *  # noqa: F403
