"""Geo UDFs for SQL rules: great-circle distance between points and between countries."""

from __future__ import annotations

import csv
from pathlib import Path

from pyflink.table import DataTypes
from pyflink.table.udf import ScalarFunction, udf

from operators.geo import haversine_km as _haversine_km


def load_country_centroids(countries_csv: Path) -> dict[str, tuple[float, float]]:
    """country code -> (lat, lon) centroid, from `datasets/reference/countries.csv`."""
    with open(countries_csv, newline="", encoding="utf-8") as f:
        return {r["country"]: (float(r["lat"]), float(r["lon"])) for r in csv.DictReader(f)}


def haversine_km(lat1, lon1, lat2, lon2) -> float | None:
    """Great-circle distance in km; NULL when a coordinate is NULL."""
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return None
    return _haversine_km(lat1, lon1, lat2, lon2)


class CountryDistanceKm(ScalarFunction):
    """Distance in km between two countries' centroids (the locations enrichment uses, so
    the same as the geo_jump detector's); NULL when either country is NULL or unknown."""

    def __init__(self, countries_csv: str) -> None:
        self._path = countries_csv
        self._centroids: dict[str, tuple[float, float]] = {}

    def open(self, function_context) -> None:
        self._centroids = load_country_centroids(Path(self._path))

    def eval(self, country_a: str | None, country_b: str | None) -> float | None:
        if not country_a or not country_b:
            return None
        a = self._centroids.get(country_a)
        b = self._centroids.get(country_b)
        if a is None or b is None:
            return None
        if a == b:
            return 0.0
        return _haversine_km(a[0], a[1], b[0], b[1])


def haversine_km_udf():
    return udf(haversine_km, result_type=DataTypes.DOUBLE())


def country_distance_km_udf(countries_csv: Path):
    return udf(CountryDistanceKm(str(countries_csv)), result_type=DataTypes.DOUBLE())
