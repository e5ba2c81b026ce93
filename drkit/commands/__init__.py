"""The `drkit` subcommands, one subpackage each; `command.py` registers the subcommand."""
