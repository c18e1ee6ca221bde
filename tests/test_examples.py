"""The examples in examples/ run and do what they say."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_sequence_classifier_stores_penultimate_vectors_and_classifies() -> None:
    result = subprocess.run([sys.executable, str(EXAMPLES / "sequence_classifier.py")],
                            capture_output=True, text=True, check=True, timeout=300)
    accuracy = float(result.stdout.strip().splitlines()[-1].rsplit(" ", 1)[1])
    assert accuracy >= 0.9, result.stdout
    assert "classify -> " in result.stdout and "stored 400 training sequences" in result.stdout
