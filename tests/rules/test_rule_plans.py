"""Where the planner puts the SQL rules' Python UDF calls (`udfs/placement.py`): after the
JVM filter of the query that calls them, and once each. Declared deterministic, the shipped
`risky_large_withdrawal` rule scored every processed row twice, before its WHERE."""

from __future__ import annotations

import pytest

from tests.job_graph import plan_operators

pytestmark = pytest.mark.minicluster


def _calls(operators: list[dict], function: str) -> list[dict]:
    return [op for op in operators if f"{function}(" in op["contents"]]


def test_the_model_udf_scores_only_the_rows_the_rules_filter_keeps():
    operators = plan_operators({})
    by_id = {op["id"]: op for op in operators}

    (scoring,) = _calls(operators, "fraud_score")  # one call, not one per reference
    assert scoring["contents"].count("fraud_score(") == 1, scoring["contents"]
    assert "PythonCalc" in scoring["contents"]
    (feeder,) = [by_id[i] for i in scoring["inputs"]]
    assert "where=" in feeder["contents"], feeder["contents"]
    where = feeder["contents"].split("where=", 1)[1]
    assert "tx_type = 'withdrawal'" in where and "amount_usd >= 20000" in where, where

    (tiering,) = _calls(operators, "risk_tier")
    assert tiering["contents"].count("risk_tier(") == 1, tiering["contents"]
