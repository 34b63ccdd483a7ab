"""`python -m demo` (what `make run` runs)."""

from __future__ import annotations

import sys

from demo.launcher import main

sys.exit(main())
