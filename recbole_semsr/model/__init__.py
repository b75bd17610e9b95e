"""Model registry: this package's models, found before RecBole's own by `get_model`."""
from __future__ import annotations

from recbole.utils import get_model as get_recbole_model

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


def get_model(name: str) -> type:
    """This package's model class called `name`, else RecBole's."""
    if name in MODELS:
        return MODELS[name]
    return get_recbole_model(name)
