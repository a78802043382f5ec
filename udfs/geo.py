"""Geo UDFs for SQL rules: great-circle distance between points and between countries.

`country_distance_km` is a JVM function (`io.fraudpipeline.udf.CountryDistanceKm`, built
into the connector jar): the shipped geo rule calls it on every located event, and a Python
row UDF costs a round trip into the embedded interpreter per row. `haversine_km` stays in
Python: it is the same formula as the detector's (`operators/geo.py`).
"""

from __future__ import annotations

from pathlib import Path

from pyflink.table import DataTypes

from operators.geo import haversine_km as _haversine_km

from .placement import placed_udf

COUNTRY_DISTANCE_CLASS = "io.fraudpipeline.udf.CountryDistanceKm"


def haversine_km(lat1, lon1, lat2, lon2) -> float | None:
    """Great-circle distance in km; NULL when a coordinate is NULL."""
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return None
    return _haversine_km(lat1, lon1, lat2, lon2)


def haversine_km_udf():
    return placed_udf(haversine_km, DataTypes.DOUBLE())


def country_distance_km_function(countries_csv: Path):
    """The JVM function instance; it reads the centroids now, so it carries them to the tasks."""
    from pyflink.java_gateway import get_gateway

    cls = get_gateway().jvm
    for part in COUNTRY_DISTANCE_CLASS.split("."):
        cls = getattr(cls, part)
    return cls(str(countries_csv))
