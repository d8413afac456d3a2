"""Distances for allocation: great-circle (haversine) kilometres and country centroids.

An order's address carries no coordinates unless the channel sends them, so
a destination falls back to the centroid of its country: good enough to tell
Berlin from Lyon from New Jersey, which is what "nearest warehouse" needs.
"""

from __future__ import annotations

from math import asin, cos, radians, sin, sqrt

EARTH_RADIUS_KM = 6371.0088

# Approximate population-weighted centres (latitude, longitude) of the countries shipped to.
COUNTRY_CENTROIDS: dict[str, tuple[float, float]] = {
    "AT": (47.8, 14.6),
    "BE": (50.8, 4.5),
    "CH": (46.9, 8.2),
    "CN": (32.0, 114.0),
    "CZ": (49.9, 15.3),
    "DE": (51.0, 9.9),
    "DK": (55.9, 10.5),
    "ES": (40.2, -3.6),
    "FI": (61.8, 25.5),
    "FR": (46.6, 2.4),
    "GB": (52.6, -1.5),
    "IE": (53.3, -7.7),
    "IT": (42.9, 12.3),
    "JP": (35.8, 138.5),
    "LU": (49.7, 6.1),
    "NL": (52.2, 5.4),
    "NO": (60.5, 9.0),
    "PL": (52.1, 19.4),
    "PT": (39.7, -8.1),
    "SE": (59.5, 16.4),
    "CA": (45.4, -75.7),
    "US": (39.8, -89.0),
    "AU": (-33.5, 150.6),
    "BR": (-22.6, -46.6),
}


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in kilometres between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(radians, (*a, *b))
    h = sin((lat2 - lat1) / 2) ** 2 + cos(lat1) * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))


def coordinates_of(
    country: str, latitude: float | None = None, longitude: float | None = None
) -> tuple[float, float] | None:
    """The destination's coordinates: given ones, else its country's centroid, else None."""
    if latitude is not None and longitude is not None:
        return float(latitude), float(longitude)
    return COUNTRY_CENTROIDS.get(country.upper()) if country else None
