"""Model registry: this package's models, found before RecBole's own by `get_model`."""
from __future__ import annotations

from recbole.utils import get_model as get_recbole_model

from recbole_semsr.model.msgat import MSGAT
from recbole_semsr.model.niser import NISER
from recbole_semsr.model.sem_models import SEM_MODELS

MODELS: dict[str, type] = {cls.__name__: cls for cls in (NISER, MSGAT, *SEM_MODELS)}


def get_model(name: str) -> type:
    """This package's model class called `name`, else RecBole's."""
    if name in MODELS:
        return MODELS[name]
    return get_recbole_model(name)
