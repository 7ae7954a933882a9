"""Plans: multi-step work. The planner (a model call with structured output) returns a DAG of typed steps,
validated in code (``validate``); the executor (``engine``) runs it on Lambda durable functions
(``runner``), evaluating each step (``evaluator``) and replanning or halting; budgets per plan (``budget``).
docs/plans.md has the design."""
