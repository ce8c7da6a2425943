"""Print a curl command that scores the first data row of a CSV file on a local `oddsline serve`.

    python examples/curl_line.py demo-output/five_customers.csv churn [--drop churn]
"""

import csv
import json
import shlex
import sys

path, model = sys.argv[1], sys.argv[2]
drop = set(sys.argv[sys.argv.index("--drop") + 1 :]) if "--drop" in sys.argv else set()
with open(path, newline="") as fh:
    row = next(csv.DictReader(fh))
body = json.dumps({k: (v if v != "" else None) for k, v in row.items() if k not in drop})
print(f"curl -s localhost:8000/v1/models/{model}/predict -H 'content-type: application/json' -d {shlex.quote(body)}")
