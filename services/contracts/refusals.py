"""Refusals: the domain error types that a validator, an activity or an update raises and that nobody
retries. One list, used by every workflow's RetryPolicy and by `kit.temporal.ACTIVITY_RETRY`; the
services' APIs map the same names back to HTTP statuses (`services.kit.workflows.run_update`).

A type name is the class name of the kit's domain error (`services.kit.errors`: NotFound, Conflict,
Invalid, Forbidden and their base DomainError) or a service's own subclass (funding's BudgetExhausted).
An activity that raises a kit DomainError raises it as an ApplicationError of that type
(`services.kit.workflows.activity_refusals`); a workflow refuses with `refusal(kind, message)`.

A leaf module (temporalio only), so workflow code may import it.
"""

from __future__ import annotations

from typing import Final

from temporalio.exceptions import ApplicationError

DOMAIN_ERROR: Final = "DomainError"
NOT_FOUND: Final = "NotFound"
CONFLICT: Final = "Conflict"
INVALID: Final = "Invalid"
FORBIDDEN: Final = "Forbidden"
BUDGET_EXHAUSTED: Final = "BudgetExhausted"

#: Every non-retryable domain error type name (a list: RetryPolicy wants a sequence it can serialise).
NON_RETRYABLE: Final[list[str]] = [DOMAIN_ERROR, NOT_FOUND, CONFLICT, INVALID, FORBIDDEN, BUDGET_EXHAUSTED]


def refusal(kind: str, message: str) -> ApplicationError:
    """A refusal to raise from a workflow (update handler) or an activity: a non-retryable
    ApplicationError whose `type` names the domain error (one of NON_RETRYABLE), so the caller's API
    renders it by type, never by message text."""
    return ApplicationError(message, type=kind, non_retryable=True)


def is_refusal(error: BaseException | None) -> bool:
    """Whether an error (e.g. an ActivityError's cause) is a domain refusal of one of the listed types."""
    return isinstance(error, ApplicationError) and error.type in NON_RETRYABLE
