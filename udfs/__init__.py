"""Python functions callable from Flink SQL rules (`sql/rules/*.sql`).

`register_udfs` registers every one under its SQL name:
- `fraud_score(f_…)` — the ONNX model score, vectorized (pandas; whole batches per call);
- `country_distance_km(country_a, country_b)` — km between two countries' centroids (a JVM
  function, see `udfs/geo.py`);
- `haversine_km(lat1, lon1, lat2, lon2)` — great-circle distance in km;
- `risk_tier(score, kyc_tier)` — low | medium | high | critical.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
