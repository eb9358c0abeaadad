"""The fonts the browser needs to show the course as written: Chinese text, and the checks' ✅ / ❌.

Chromium draws text with the fonts fontconfig knows; without them the screenshots show boxes (tofu) where a student
would read Chinese or see whether a check passed. ``.ci/run`` installs them (fonts-noto-cjk, fonts-noto-color-emoji).
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

NEEDED = {  # test id: fontconfig pattern
    "chinese": ":lang=zh",  # fonts-noto-cjk
    "check-mark-U+2705": ":charset=2705",  # ✅, fonts-noto-color-emoji
    "cross-mark-U+274C": ":charset=274c",  # ❌, fonts-noto-color-emoji
}


@pytest.mark.parametrize("pattern", NEEDED.values(), ids=NEEDED.keys())
def test_a_font_covers_what_the_notebooks_show(pattern: str):
    fc_list = shutil.which("fc-list")
    assert fc_list, "fontconfig's fc-list is missing (Chromium depends on fontconfig): apt-get install -y fontconfig"
    families = subprocess.run([fc_list, pattern, "family"], capture_output=True, text=True, check=True).stdout
    assert families.strip(), f"no installed font covers {pattern}: apt-get install -y fonts-noto-cjk fonts-noto-color-emoji"
