import sys

from .cli import main

if __name__ == "__main__":  # also imported (as __mp_main__) by the offload worker: it must not start a station
    sys.exit(main())
