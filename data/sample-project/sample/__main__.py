"""Print changes as a table (`python -m sample ...`).

Usage:
  sample [--kind=KIND] [FILE]
  sample --json=PATH FILE

Options:
  --kind=KIND   Only changes of this kind (feat, fix, docs, chore).
  --json=PATH   A JSONPath into the changes as JSON records, e.g. '$[*].text'.
"""

import json
from pathlib import Path

from docopt import docopt

from sample import parse_changes, render_table
from sample.query import query

args = docopt(__doc__)
changes = parse_changes(Path(args["FILE"] or "CHANGES.txt").read_text().splitlines())
if args["--kind"]:
    changes = [c for c in changes if c.kind == args["--kind"]]
if args["--json"]:
    print(json.dumps(query(changes, args["--json"])))
else:
    print(render_table(changes))
