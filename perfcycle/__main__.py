"""`python -m perfcycle` is the same as the `perfcycle` command."""

from perfcycle.cli import main

main()
