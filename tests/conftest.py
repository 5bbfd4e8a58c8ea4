import sys
from pathlib import Path

# Lets tests import the helpers beside them (tests/locations.py) by plain module name.
sys.path.insert(0, str(Path(__file__).parent))
