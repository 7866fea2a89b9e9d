"""``python -m xnat_sdk.cli``: the same as the ``xnat-sdk`` command."""

import sys

from xnat_sdk.cli import main

sys.exit(main())
