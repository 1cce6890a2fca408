"""Download one partition's file: the resolved task specs arrive as JSON in TASK_SPECS."""

import json
import os

if __name__ == "__main__":
    specs = json.loads(os.environ["TASK_SPECS"])
    print(json.dumps(specs, indent=2))
