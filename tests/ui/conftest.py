"""The browser tests run with `make test-ui` (SAGE_AMAZON_UI_TESTS=1, after installing Chromium and Playwright), not
with `make test`: they build an instance and start the UI, minutes of work the quick suite does not need."""

import os

collect_ignore = [] if os.environ.get("SAGE_AMAZON_UI_TESTS") == "1" else ["test_screenshots.py", "build.py"]
