"""Every Python UDF is declared non-deterministic, so the planner evaluates it where the
rule's query puts it: after the WHERE of the subquery that calls it, and once.

Declared deterministic, Flink 2.2's planner merges a rule's nested queries into one
projection and one condition, then splits the Python calls out of it (`PythonCalc`) and
evaluates them before the whole merged condition, on every row; each reference in the
outer query repeats the call. The shipped `risky_large_withdrawal` rule scored every
processed row twice with the model, although its inner WHERE keeps about 0.5 % of them
(withdrawals of 20,000 USD or more). Non-deterministic calls are neither merged into the
outer query nor repeated, so the rule's JVM filter runs first and the model scores only the
rows it keeps (`tests/rules/test_rule_plans.py`; README "Rules in Flink SQL").

What a rule author loses: a call on literals is not folded into a constant at planning
time. The functions are pure all the same.
"""

from __future__ import annotations

from pyflink.table.udf import ScalarFunction, udf


class PlacedFunction(ScalarFunction):
    """Base of the class-based Python UDFs: evaluated where the query calls them."""

    def is_deterministic(self) -> bool:
        return False


def placed_udf(function, result_type):
    """A Python scalar UDF (a `PlacedFunction` or a plain function), non-deterministic."""
    return udf(function, result_type=result_type, deterministic=False)
