"""recbole-semsr: semantics-aware session-based recommendation (SemSR) as a RecBole plugin."""
from recbole_semsr import compat

compat.apply()

__version__ = "0.1.0"
