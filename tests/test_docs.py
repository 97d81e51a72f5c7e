"""The README's settings table is the one the tap prints."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.taprun import tap_command

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_settings_table_matches_about():
    about = subprocess.run(
        [*tap_command(), "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    generated = re.search(r"^\| Setting .*?(?=\n\n)", about, re.S | re.M)
    documented = re.search(
        r"<!-- settings:start.*?-->\n(.*?)\n<!-- settings:end -->", README.read_text(), re.S
    )
    assert generated and documented
    assert documented.group(1).strip() == generated.group(0).strip()
