"""The perfcycle benchmark: a synthetic district of size S, M or L through the whole annual cycle."""
