"""Sub-commands of the `monitor` CLI, one module per area; each exposes `register(subparsers)`.

The parser imports every module to list its commands, so whatever a module imports at its top
every command pays for: a command's own dependencies (database, web, reports, scheduler) are
imported inside it. `tests/test_classify_cli.py` checks that `monitor classify` stays light.
"""
