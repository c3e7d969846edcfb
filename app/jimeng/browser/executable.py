"""Finding a Chromium to drive: `BROWSER_EXECUTABLE`, else Debian's Chromium on the PATH.

Playwright normally downloads its own browser build; machines here cannot, so it always drives
an installed one. Debian's `chromium-headless-shell` comes first when installed: it is the build
Playwright itself runs for headless work, and it needs a third of the memory of the full browser
(measured with the same flags: 243 vs 667 MB RSS for one account, 1.4 vs 3.9 GB for ten; README
"Browser transport"). Its own client hints say "HeadlessChrome"; the host overrides them to match
the user agent we claim (host.py, `_claim_user_agent`), so the page's requests do not contradict
themselves. The full `chromium` is the fallback, and the choice when Jimeng ever refuses the
shell for something else (set BROWSER_EXECUTABLE).
"""
from __future__ import annotations

import os
import shutil

DEBIAN_LIBDIR = "/usr/lib/chromium"
CANDIDATES = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
INSTALL_HINT = ("install Debian's chromium ('apt-get install chromium-headless-shell chromium') or set "
                "BROWSER_EXECUTABLE to a Chromium or Chrome binary")


def find_executable(configured: str = "") -> tuple[str | None, str]:
    """(path, "") when a usable browser binary exists, else (None, what is wrong and how to fix it)."""
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured, ""
        return None, f"BROWSER_EXECUTABLE={configured} is not an executable file; {INSTALL_HINT}"
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return _behind_wrapper(path), ""
    return None, f"no Chromium found on the PATH; {INSTALL_HINT}"


def _behind_wrapper(path: str) -> str:
    """Debian's /usr/bin/chromium* are shell scripts that run the binary as a child: drive the
    binary itself, so the process Playwright starts is the browser (a crash is then seen as one)."""
    real = os.path.join(DEBIAN_LIBDIR, os.path.basename(path))
    try:
        with open(path, "rb") as head:
            is_script = head.read(2) == b"#!"
    except OSError:
        return path
    return real if is_script and os.access(real, os.X_OK) else path
