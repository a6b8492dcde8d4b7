"""Process settings for a long run."""

from __future__ import annotations

import gc

from perfcycle.runtime import FULL_COLLECTION_EVERY, settle_heap


def test_a_long_run_keeps_its_startup_objects_out_of_every_collection() -> None:
    threshold = gc.get_threshold()
    try:
        kept = [[n] for n in range(10_000)]  # container objects the collector would otherwise walk each time
        settle_heap()
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold() == (threshold[0], threshold[1], FULL_COLLECTION_EVERY)
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # what is made afterwards is still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
