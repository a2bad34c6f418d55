"""Fixtures shared by every test package."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
REVIEWS = SHARED_DATA / "womens_clothing_reviews.csv.gz"


@pytest.fixture
def reviews_csv() -> Path:
    if not REVIEWS.exists():
        pytest.skip(f"shared reviews data not found at {REVIEWS} (../shared is absent)")
    return REVIEWS
