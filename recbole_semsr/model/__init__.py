"""Model registry: this package's models, found before RecBole's own by `get_model`."""
from __future__ import annotations

import difflib
import importlib
from functools import cache

from recbole.utils import get_model as get_recbole_model

from recbole_semsr.config import PACKAGE_MODELS

from recbole_semsr.model.msgat import MSGAT
from recbole_semsr.model.niser import NISER
from recbole_semsr.model.pop import POP
from recbole_semsr.model.sem_models import SEM_MODELS
from recbole_semsr.model.sr import SR
from recbole_semsr.model.stan import STAN
from recbole_semsr.model.vsknn import VSKNN
from recbole_semsr.model.vstan import VSTAN

NON_NEURAL_MODELS: tuple[type, ...] = (POP, SR, VSKNN, STAN, VSTAN)
"""Session baselines fitted once on the training sessions, without gradient steps."""

MODELS: dict[str, type] = {cls.__name__: cls for cls in (NISER, MSGAT, *SEM_MODELS, *NON_NEURAL_MODELS)}
PACKAGE_MODELS.update(MODELS)


RECBOLE_MODEL_PACKAGES = ("sequential_recommender", "general_recommender", "context_aware_recommender",
                          "knowledge_aware_recommender")


class UnknownModelError(ValueError):
    """A model name that is neither this package's nor RecBole's."""


def get_model(name: str) -> type:
    """This package's model class called `name`, else RecBole's; `UnknownModelError` lists the known names."""
    if name in MODELS:
        return MODELS[name]
    if name in recbole_model_names():
        return get_recbole_model(name)
    known = [*MODELS, *recbole_model_names()]
    by_lower = {model.lower(): model for model in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    hint = f" (closest: {by_lower[close[0]]})" if close else ""
    raise UnknownModelError(f"unknown model {name!r}{hint}. Known: this package's {', '.join(MODELS)}; "
                            f"RecBole's {', '.join(recbole_model_names())}")


@cache
def recbole_model_names() -> tuple[str, ...]:
    """Class names of RecBole's models (its optional lightgbm/xgboost wrappers left out)."""
    names: set[str] = set()
    for package in RECBOLE_MODEL_PACKAGES:
        module = importlib.import_module(f"recbole.model.{package}")
        names |= {attribute for attribute in dir(module) if isinstance(getattr(module, attribute), type)}
    return tuple(sorted(names))
