"""Where a plan's steps are checkpointed: the ``Runner`` port, and its Lambda durable-execution adapter.

The engine (``switchboard.plans.engine``) asks the runner for three things: run a named step once and keep
its result (``step``), run branches in parallel (``parallel``), and wait for a person's callback with a
timeout (``wait_for_callback``). On Lambda, ``DurableRunner`` maps them onto the official SDK
(``aws-durable-execution-sdk-python``): ``context.step`` (checkpointed; on replay its result is read back
and the function is not run again), ``context.parallel`` and ``context.wait_for_callback``. Names are the
engine's, deterministic per plan and step, so a replay meets the same operations in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from switchboard.errors import ReviewRefused, ReviewTimedOut, TransientActionError

__all__ = ["RETRYABLE", "DurableRunner", "ReviewRefused", "ReviewTimedOut", "Runner"]

T = TypeVar("T")


class Runner(Protocol):
    def step(self, name: str, fn: Callable[[], T], *, retries: int = 0) -> T: ...

    def parallel(self, name: str, branches: list[Callable[[Runner], T]]) -> list[T]: ...

    def wait_for_callback(self, name: str, submit: Callable[[str], None], timeout_s: int) -> str | None: ...


#: The errors a step's retry policy retries (the transient ones); any other error ends the attempt at once.
RETRYABLE: tuple[type[Exception], ...] = (TransientActionError,)


class DurableRunner:
    """``Runner`` on a ``DurableContext`` (imported lazily: only the plan function loads the SDK)."""

    def __init__(self, context: Any) -> None:
        self.context = context

    def step(self, name: str, fn: Callable[[], T], *, retries: int = 0) -> T:
        from aws_durable_execution_sdk_python.config import Duration, StepConfig
        from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

        strategy = create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=retries + 1,
                initial_delay=Duration.from_seconds(1),
                max_delay=Duration.from_seconds(30),
                retryable_error_types=list(RETRYABLE),
            )
        )
        result: T = self.context.step(
            lambda _ctx: fn(), name=name, config=StepConfig(retry_strategy=strategy)
        )
        return result

    def parallel(self, name: str, branches: list[Callable[[Runner], T]]) -> list[T]:
        def branch(run: Callable[[Runner], T]) -> Callable[[Any], T]:
            return lambda child: run(DurableRunner(child))

        batch = self.context.parallel([branch(run) for run in branches], name=name)
        batch.throw_if_error()
        return list(batch.get_results())

    def wait_for_callback(self, name: str, submit: Callable[[str], None], timeout_s: int) -> str | None:
        from aws_durable_execution_sdk_python.config import Duration, WaitForCallbackConfig
        from aws_durable_execution_sdk_python.exceptions import CallbackError, CallbackTimeoutError

        config = WaitForCallbackConfig(timeout=Duration.from_seconds(timeout_s))
        try:
            answer = self.context.wait_for_callback(
                lambda callback_id, _ctx: submit(callback_id), name, config
            )
        except CallbackTimeoutError as exc:
            raise ReviewTimedOut(str(exc)) from None
        except CallbackError as exc:
            raise ReviewRefused(str(exc)) from None
        return None if answer is None else answer if isinstance(answer, str) else str(answer)
