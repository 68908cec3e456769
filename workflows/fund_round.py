"""Steering-group round of the discretionary fund (Verfügungsfonds, seed 002 §2 and §5; DOMAIN.md
flow 6): one workflow per round, id `fund-round-<round id>`.

Applications are collected for a meeting. Members register their presence and declare conflicts of
interest (recused from that application's vote) and vote; all are updates with validators. Closing
the meeting concludes it in one activity: without a quorum (default half of the members) the meeting
fails and the applications move to the next meeting; otherwise each application is decided by the
majority of the members present and not recused, approved ones reserve budget, and minutes are
stored. The round ends when every application is decided.
"""

import asyncio
from datetime import timedelta
from uuid import UUID

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.contracts.funding_activities import (
        conclude_meeting,
    )
    from services.contracts.funding_workflows import (
        FUND_ROUND_WORKFLOW,
        CloseMeetingCommand,
        ConcludeMeetingInput,
        FundRoundInput,
        MeetingOutcome,
        PresenceCommand,
        RoundState,
        VoteCommand,
        presence_refusal,
        recused_from,
        vote_refusal,
    )
    from services.contracts.refusals import CONFLICT, DOMAIN_ERROR, NON_RETRYABLE, is_refusal, refusal

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
    non_retryable_error_types=NON_RETRYABLE,
)


@workflow.defn(name=FUND_ROUND_WORKFLOW)
class FundRound:
    @workflow.init
    def __init__(self, inp: FundRoundInput) -> None:
        self._inp: FundRoundInput | None = inp
        self._meeting_no = 1
        self._pending: list[str] = [str(a) for a in inp.application_ids]
        self._present: dict[str, list[str]] = {}
        self._votes: dict[str, dict[str, str]] = {}
        self._decided: dict[str, str] = {}
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, inp: FundRoundInput) -> RoundState:
        await workflow.wait_condition(lambda: not self._pending and workflow.all_handlers_finished())
        return self.state()

    @workflow.update
    async def register_presence(self, cmd: PresenceCommand) -> RoundState:
        self._validate_presence(cmd)
        self._present[cmd.member] = [str(a) for a in cmd.conflicts]
        return self.state()

    @register_presence.validator
    def _validate_presence(self, cmd: PresenceCommand) -> None:
        assert self._inp is not None
        found = presence_refusal(cmd.member, self._inp.members, self._present)
        if found is not None:
            raise refusal(found.type, found.message)
        if self._lock.locked():
            raise refusal(CONFLICT, "the meeting is being closed")

    @workflow.update
    async def vote(self, cmd: VoteCommand) -> RoundState:
        self._validate_vote(cmd)
        self._votes.setdefault(str(cmd.application_id), {})[cmd.member] = cmd.vote
        return self.state()

    @vote.validator
    def _validate_vote(self, cmd: VoteCommand) -> None:
        found = vote_refusal(cmd, self._present, self._pending, self._votes)
        if found is not None:
            raise refusal(found.type, found.message)
        if self._lock.locked():
            raise refusal(CONFLICT, "the meeting is being closed")

    @workflow.update
    async def close_meeting(self, cmd: CloseMeetingCommand) -> MeetingOutcome:
        assert self._inp is not None
        async with self._lock:
            recused = {a: recused_from(self._present, a) for a in self._pending}
            try:
                outcome = await workflow.execute_activity(
                    conclude_meeting,
                    ConcludeMeetingInput(
                        round_id=self._inp.round_id, tenant=self._inp.tenant, meeting_no=self._meeting_no, members=self._inp.members,
                        quorum=self._inp.quorum, present=sorted(self._present), recused=recused,
                        votes={a: self._votes.get(a, {}) for a in self._pending}, pending=list(self._pending), closed_by=cmd.by,
                    ),
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=RETRY,
                )
            except ActivityError as err:
                cause = err.cause
                if isinstance(cause, ApplicationError) and is_refusal(cause):
                    raise refusal(cause.type or DOMAIN_ERROR, cause.message) from None
                raise refusal(DOMAIN_ERROR, "the meeting could not be concluded; try again") from None
            if outcome.quorate:
                self._decided.update(outcome.decided)
                self._pending = [a for a in self._pending if a not in outcome.decided]
            self._meeting_no += 1
            self._present, self._votes = {}, {}
            return outcome

    @close_meeting.validator
    def _validate_close(self, cmd: CloseMeetingCommand) -> None:
        if self._lock.locked():
            raise refusal(CONFLICT, "the meeting is already being closed")

    @workflow.query
    def state(self) -> RoundState:
        return RoundState(
            meeting_no=self._meeting_no, pending=[UUID(a) for a in self._pending],
            present=sorted(self._present), decided=dict(self._decided),
        )
