"""Generate ``src/monetization_sdk/models.py`` (pydantic v2) from ``infra/openapi.yaml`` with
datamodel-code-generator. Email formats are left to the API (it validates addresses; a client that re-checks
them refuses answers about reserved domains such as ``example.test``). ``python generate.py [OUT]``."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "infra" / "openapi.yaml"
OUT = Path(__file__).resolve().parent / "src" / "monetization_sdk" / "models.py"


def without_email_formats(node):
    if isinstance(node, dict):
        return {k: without_email_formats(v) for k, v in node.items() if not (k == "format" and v == "email")}
    if isinstance(node, list):
        return [without_email_formats(v) for v in node]
    return node


def generate(out: Path) -> None:
    spec = without_email_formats(yaml.safe_load(SPEC.read_text()))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "openapi.json"
        source.write_text(json.dumps(spec))
        subprocess.run(
            [
                str(Path(sys.executable).with_name("datamodel-codegen")),
                "--input", str(source), "--input-file-type", "openapi",
                "--output-model-type", "pydantic_v2.BaseModel", "--target-python-version", "3.10",
                "--use-annotated", "--disable-timestamp", "--output", str(out),
            ],
            check=True,
            capture_output=True,
        )
    text = out.read_text().replace("#   filename:  openapi.json\n", "#   filename:  infra/openapi.yaml (generate.py)\n")
    out.write_text(text)


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
