import sys

from launcher.run import main

sys.exit(main())
