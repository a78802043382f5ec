"""Python functions callable from Flink SQL rules (`sql/rules/*.sql`).

`register_udfs` registers every one under its SQL name:
- `fraud_score(f_…)` — the ONNX model score of one row's features;
- `country_distance_km(country_a, country_b)` — km between two countries' centroids (a JVM
  function, see `udfs/geo.py`);
- `haversine_km(lat1, lon1, lat2, lon2)` — great-circle distance in km;
- `risk_tier(score, kyc_tier)` — low | medium | high | critical.

The Python ones are non-deterministic for the planner (`udfs/placement.py`) and run in the
job's embedded interpreter in thread mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Imported with the package, so by the first Python operator a task thread opens. In
# thread mode each embedded operator has its own Python thread state, and the first one
# created on a thread is the one PyGILState_Ensure finds there; onnxruntime's extension
# calls PyGILState_Ensure while it initialises, so imported under a later state (a rule
# whose `fraud_score` is not the first Python operator of its task) it would wait forever
# for the GIL its own thread holds (docs/toolchain-notes.md, "Mixed chains hang").
import onnxruntime  # noqa: F401

if TYPE_CHECKING:
    from pyflink.table import TableEnvironment

    from pipeline.config import PipelineConfig

UDF_NAMES = ("fraud_score", "country_distance_km", "haversine_km", "risk_tier")


def register_udfs(t_env: TableEnvironment, cfg: PipelineConfig) -> None:
    from py4j.java_gateway import JavaObject

    from .geo import country_distance_km_function, haversine_km_udf
    from .risk import risk_tier_udf
    from .scoring import fraud_score_udf

    functions = {
        "fraud_score": fraud_score_udf(cfg.resolve(cfg.model.path)),
        "country_distance_km": country_distance_km_function(
            cfg.resolve(cfg.reference.dir) / "countries.csv"
        ),
        "haversine_km": haversine_km_udf(),
        "risk_tier": risk_tier_udf(
            cfg.decision.alert_score_threshold, cfg.decision.critical_score_threshold
        ),
    }
    for name in UDF_NAMES:
        function = functions[name]
        if isinstance(function, JavaObject):  # a JVM function instance
            t_env._j_tenv.createTemporaryFunction(name, function)
        else:
            t_env.create_temporary_function(name, function)
