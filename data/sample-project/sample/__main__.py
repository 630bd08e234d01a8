"""`python -m sample [FILE]`: print the changes in FILE (default: CHANGES.txt) as a table."""

import sys
from pathlib import Path

from sample import parse_changes, render_table

path = Path(sys.argv[1] if len(sys.argv) > 1 else "CHANGES.txt")
print(render_table(parse_changes(path.read_text().splitlines())))
