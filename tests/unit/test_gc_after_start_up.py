"""Every process freezes what start-up made and collects young objects rarely (shared/loop.py)."""

import subprocess
import sys


def test_freeze_start_up_freezes_the_heap_and_raises_the_young_threshold():
    code = (
        "import gc; from shared.loop import GC_YOUNG_THRESHOLD, freeze_start_up; before = gc.get_threshold();"
        "freeze_start_up(); print(gc.get_freeze_count() > 1000, gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True"]

