"""The README's meter table is what decoding frames/ gives today."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import meter_table  # noqa: E402


def test_readme_table_matches_the_captures():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert meter_table.table() in readme, "README.md's meter table is stale: run tools/meter_table.py --write"


def test_every_capture_has_a_family_and_the_table_counts_them_all():
    families = meter_table.rows()
    total = sum(row["captures"] for row in families.values())
    captures = sum(1 for d in os.listdir(os.path.join(ROOT, "frames"))
                   if os.path.isdir(os.path.join(ROOT, "frames", d))
                   for f in os.listdir(os.path.join(ROOT, "frames", d)) if f.endswith(".json"))
    assert total == captures
    assert families["Kamstrup Omnipower"]["readings"] > 0
