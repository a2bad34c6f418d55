import sys

from .cli import main

if __name__ == "__main__":  # the engine's worker process imports this module again
    sys.exit(main())
