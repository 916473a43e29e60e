"""The command line: `tracker.cli.commands.main` is the click group; each command group has its module.

Nothing is imported here: the package's modules import `tracker.cli.state`, never the group that lists them."""
