"""Entry point of ``python -m autograder``."""
import sys

from autograder.cli import main

if __name__ == "__main__":  # Dask's worker processes import this module again; they must not rerun the CLI
    sys.exit(main())
