"""``python -m gradcore ...`` is the ``gradcore`` command."""
import sys

from gradcore.cli import main

sys.exit(main())
