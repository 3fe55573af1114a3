"""The ``reelforge`` command line (Typer): one module per command group."""
