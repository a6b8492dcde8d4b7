"""The perfcycle benchmark: a synthetic district of size S, M or L through the whole annual cycle."""


def python_speed_s(loops: int = 5_000_000) -> float:
    """CPU seconds one core takes for a fixed loop of plain Python: the machine's speed at the moment of a run,
    so that runs on machines (or moments) of different speed can be compared. The best of three."""
    import time

    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        total = 0
        for i in range(loops):
            total += i
        best = min(best, time.process_time() - started)
    return round(best, 3)
