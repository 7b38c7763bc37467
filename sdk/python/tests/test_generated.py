"""The models are generated from infra/openapi.yaml (``python generate.py``): stale ones fail here."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import generate  # noqa: E402


def test_models_are_what_the_generator_makes_of_the_spec(tmp_path):
    fresh = tmp_path / "models.py"
    generate.generate(fresh)
    assert fresh.read_text() == generate.OUT.read_text(), "stale: run `python generate.py` in sdk/python"
