import sys

from journeysim.cli import main

sys.exit(main())
