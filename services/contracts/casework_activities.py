"""Casework's activity interfaces, declared once: the workflows (review cycle, case onboarding,
referral) call these stubs, `workflow.execute_activity(record_review, inp, ...)`, and casework's
`CaseworkActivities` implements each under the same name. The names are those of the committed
histories (tests/histories/*.json); the bodies here never run."""

from __future__ import annotations

from temporalio import activity

from services.contracts.activities import RECORD_REVIEW_DUE, RecordReviewDueInput, RecordReviewDueResult
from services.contracts.casework_retention import PERSONS_PAST_RETENTION, REQUEST_ERASURE, ErasureRequestInput, PastRetentionInput, PersonIds, RetentionResult
from services.contracts.casework_workflows import (
    ONBOARDING_ESCALATE,
    ONBOARDING_REMIND,
    RECORD_FIRST_CONTACT,
    RECORD_REFERRAL_STEP,
    RECORD_REVIEW,
    REFERRAL_ESCALATE,
    REVIEW_ESCALATE,
    CaseDeadlineInput,
    RecordFirstContactInput,
    RecordReferralStepInput,
    RecordReviewInput,
    ReferralEscalateInput,
    StepResult,
)


@activity.defn(name=RECORD_REVIEW_DUE)
async def record_review_due(inp: RecordReviewDueInput) -> RecordReviewDueResult:
    """A review came due: recorded and announced once per case and cycle, the caseworker reminded."""
    raise NotImplementedError


@activity.defn(name=REVIEW_ESCALATE)
async def review_escalate(inp: CaseDeadlineInput) -> StepResult:
    """A review still unrecorded after the escalation days goes to the team lead (ok=False: the case is closed)."""
    raise NotImplementedError


@activity.defn(name=RECORD_REVIEW)
async def record_review(inp: RecordReviewInput) -> StepResult:
    """Records a review: the goals take their results; ReviewCompleted counts them."""
    raise NotImplementedError


@activity.defn(name=ONBOARDING_REMIND)
async def onboarding_remind(inp: CaseDeadlineInput) -> StepResult:
    """Reminds the caseworker of the first contact before it is due (ok=False: not needed any more)."""
    raise NotImplementedError


@activity.defn(name=ONBOARDING_ESCALATE)
async def onboarding_escalate(inp: CaseDeadlineInput) -> StepResult:
    """No first contact by its deadline: the team lead is alerted (ok=False: not needed any more)."""
    raise NotImplementedError


@activity.defn(name=RECORD_FIRST_CONTACT)
async def record_first_contact(inp: RecordFirstContactInput) -> StepResult:
    """The welcome visit and starter pack; the case moves to planning (refused by first_contact_error)."""
    raise NotImplementedError


@activity.defn(name=REFERRAL_ESCALATE)
async def referral_escalate(inp: ReferralEscalateInput) -> StepResult:
    """The partner missed a referral deadline: escalated to the team lead (ok=False: the referral is closed)."""
    raise NotImplementedError


@activity.defn(name=RECORD_REFERRAL_STEP)
async def record_referral_step(inp: RecordReferralStepInput) -> StepResult:
    """A partner step on a referral (the partner's table, PARTNER_PROCESSES)."""
    raise NotImplementedError


@activity.defn(name=PERSONS_PAST_RETENTION)
async def persons_past_retention(inp: PastRetentionInput) -> PersonIds:
    """The persons not erased whose every case closed before `closed_before` (at most `limit`)."""
    raise NotImplementedError


@activity.defn(name=REQUEST_ERASURE)
async def request_erasure(inp: ErasureRequestInput) -> RetentionResult:
    """PersonRetentionElapsed for each person (intake erases them)."""
    raise NotImplementedError
