"""Sub-commands of the `perfcycle` CLI that live in their own modules; each exposes `register(app)`."""
