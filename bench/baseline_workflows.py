"""The bare Temporal baseline of bench/intake_pipeline.py: one workflow that runs one activity.

This module imports only temporalio: the workflow sandbox re-imports workflow modules on every run,
so anything heavier here would be measured as well. The names belong to the benchmark alone.
"""

from datetime import timedelta

from temporalio import activity, workflow

PING_WORKFLOW = "Ping"
PING_ACTIVITY = "bench.ping"


@activity.defn(name=PING_ACTIVITY)
async def ping(n: int) -> int:
    return n


@workflow.defn(name=PING_WORKFLOW)
class Ping:
    @workflow.run
    async def run(self, n: int) -> int:
        return await workflow.execute_activity(
            PING_ACTIVITY, n, result_type=int, start_to_close_timeout=timedelta(seconds=30)
        )
