import sys
from pathlib import Path

# tests import their helpers as `tests.<module>`
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
