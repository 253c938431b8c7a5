"""One module per command: each is a function that returns a frozen result (reconciler.results).

The CLI parses arguments, calls one of these, hands the result to :mod:`reconciler.render` and
maps errors to exit codes; nothing here prints. :mod:`.project` holds what every command shares:
loading the project, selecting plugins, reading locks and planning.
"""
