"""The ``drawdown`` command line: a thin edge that parses arguments, calls the book and
renders results with Rich. Domain errors map to exit codes in one table (``EXIT_CODES``)."""
