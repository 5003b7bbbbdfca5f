"""Sub-commands of the `monitor` CLI, one module per area; each exposes `register(subparsers)`."""
