"""`country_distance_km` is a JVM function: on Flink it gives, for every pair of reference
countries, the distance the geo_jump detector computes in Python from the same centroids."""

from __future__ import annotations

import csv
import json
import sys

import pytest

from operators.geo import haversine_km
from tests.factories import components
from tests.jobs import run_checked

pytestmark = pytest.mark.minicluster


def test_every_country_pair_matches_the_python_haversine(tmp_path):
    cfg = components("csv").cfg
    with open(cfg.resolve(cfg.reference.dir) / "countries.csv", newline="") as f:
        centroids = {r["country"]: (float(r["lat"]), float(r["lon"])) for r in csv.DictReader(f)}
    proc = run_checked(
        [
            sys.executable,
            "-m",
            "tests.udfs.country_distance_query",
            str(tmp_path / "logs"),
            str(tmp_path / "checkpoints"),
        ]
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("[")]
    assert len(rows) == (len(centroids) + 2) ** 2
    for a, b, km in rows:
        if a not in centroids or b not in centroids:
            assert km is None, (a, b)
        elif a == b:
            assert km == 0.0
        else:
            assert km == pytest.approx(haversine_km(*centroids[a], *centroids[b]), rel=1e-12)
    de_sg = next(km for a, b, km in rows if (a, b) == ("DE", "SG"))
    assert 9_500 < de_sg < 10_500
