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


def test_a_server_that_ignores_the_request_to_stop_is_killed_after_its_grace() -> None:
    import signal
    import subprocess
    import sys

    from perfcycle.runtime import stop_process

    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    )
    polite = "import time; print('up', flush=True); time.sleep(60)"
    codes = []
    for script in (polite, stubborn):
        process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
        assert process.stdout is not None and process.stdout.readline() == b"up\n"
        stop_process(process, grace=0.5)
        codes.append(process.returncode)
        process.stdout.close()
    assert codes == [-signal.SIGTERM, -signal.SIGKILL]
