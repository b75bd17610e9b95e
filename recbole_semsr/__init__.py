"""recbole-semsr: semantics-aware session-based recommendation (SemSR) as a RecBole plugin."""
from recbole_semsr import compat

compat.apply()

__version__ = "0.1.0"

_RECOMMENDER_NAMES = ("Recommender", "Recommendation", "RecommendError", "NewItemsUnsupportedError")


def __getattr__(name: str):
    """`from recbole_semsr import Recommender` (and its result and error types), imported on first use so that
    `import recbole_semsr` stays light."""
    if name in _RECOMMENDER_NAMES:
        from recbole_semsr import recommender

        return getattr(recommender, name)
    raise AttributeError(f"module 'recbole_semsr' has no attribute {name!r}")
