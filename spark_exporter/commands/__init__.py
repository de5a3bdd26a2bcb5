"""The command lines: one module per subcommand and one runner.

:mod:`.exporter` is the daemon (``spark-exporter`` with no subcommand); :mod:`.api`, :mod:`.query`,
:mod:`.config`, :mod:`.demo` and :mod:`.gpu` are the subcommands. Each builds its parser, names its
settings schema (:mod:`spark_exporter.settings.options`), checks and runs, through
:func:`.runner.run`, which does the prologue once. No command module imports another.
"""
