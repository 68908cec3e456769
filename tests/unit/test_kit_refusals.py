"""The kit's refusal mapping without a server: an update's refusal becomes the DomainError its type
names (never its text), a DomainError inside an activity leaves as a non-retryable refusal, and the
one list of non-retryable types is what every retry policy uses."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from services.contracts.funding_workflows import DOMAIN_ERROR_TYPES
from services.contracts.refusals import NON_RETRYABLE, is_refusal, refusal
from services.kit.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from services.kit.temporal import ACTIVITY_RETRY
from services.kit.workflows import REFUSAL_ERRORS, activity_refusals, refusal_error, refuses_domain_errors


def failed(cause: BaseException) -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(cause)


class Budget(DomainError):
    status_code = 409


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("NotFound", NotFound), ("Conflict", Conflict), ("Invalid", Invalid), ("Forbidden", Forbidden),
        ("ValueError", Conflict), ("DomainError", Conflict), (None, Conflict),
    ],
)
def test_a_refusal_becomes_the_error_its_type_names(kind: str | None, error: type[DomainError]) -> None:
    got = refusal_error(failed(ApplicationError("the case is closed not found", type=kind)), field="cycle")
    assert type(got) is error and got.message == "the case is closed not found" and got.field == "cycle"


def test_a_service_adds_its_own_types() -> None:
    got = refusal_error(failed(refusal("BudgetExhausted", "no money left")), errors={**REFUSAL_ERRORS, "BudgetExhausted": Budget})
    assert type(got) is Budget


def test_a_cause_that_is_no_application_error_gives_conflict_with_the_fallback_or_its_message() -> None:
    cause = ActivityError(
        "Activity task failed", scheduled_event_id=1, started_event_id=2, identity="w", activity_type="a", activity_id="1",
        retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )
    assert refusal_error(failed(cause), fallback="the step was refused").message == "the step was refused"
    assert refusal_error(failed(cause)).message == "Activity task failed"


async def test_a_domain_error_in_an_activity_leaves_as_a_non_retryable_refusal_of_its_type() -> None:
    @refuses_domain_errors
    async def act(x: int) -> int:
        raise Invalid("no referrals are made to X")

    with pytest.raises(ApplicationError) as raised:
        await act(1)
    assert raised.value.type == "Invalid" and raised.value.non_retryable and raised.value.message == "no referrals are made to X"
    with pytest.raises(ApplicationError) as raised, activity_refusals():
        raise NotFound("no such case")
    assert raised.value.type == "NotFound" and is_refusal(raised.value)


def test_one_list_of_non_retryable_types() -> None:
    assert list(ACTIVITY_RETRY.non_retryable_error_types or []) == NON_RETRYABLE
    assert DOMAIN_ERROR_TYPES == NON_RETRYABLE
    assert {"DomainError", "NotFound", "Conflict", "Invalid", "Forbidden", "BudgetExhausted"} == set(NON_RETRYABLE)
