"""Model registry: this package's models, found before RecBole's own by `get_model`."""
from __future__ import annotations

from recbole.utils import get_model as get_recbole_model

from recbole_semsr.model.niser import NISER

MODELS: dict[str, type] = {cls.__name__: cls for cls in (NISER,)}


def register(*classes: type) -> None:
    """Make model classes available to the runner under their class names."""
    MODELS.update({cls.__name__: cls for cls in classes})


def get_model(name: str) -> type:
    """This package's model class called `name`, else RecBole's."""
    if name in MODELS:
        return MODELS[name]
    return get_recbole_model(name)
