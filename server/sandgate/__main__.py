import sys

from sandgate.cli.main import main

sys.exit(main())
