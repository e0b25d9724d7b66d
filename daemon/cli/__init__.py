"""The ``mynareader`` command line: one module per command group, ``__main__`` wires them and reports failures."""
