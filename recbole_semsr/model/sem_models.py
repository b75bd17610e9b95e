"""The registered SemSR variants: SemSR-I and SemSR-F around this package's and RecBole's session models."""
from __future__ import annotations

from recbole.model.sequential_recommender import GRU4Rec, NARM, SASRec, SRGNN

from recbole_semsr.model.msgat import MSGAT
from recbole_semsr.model.niser import NISER
from recbole_semsr.model.semsr import fused, semantic_init

PAPER_BASES = (NISER, MSGAT)
RECBOLE_BASES = (GRU4Rec, NARM, SASRec, SRGNN)

SEM_MODELS: tuple[type, ...] = tuple(
    variant(base) for base in PAPER_BASES + RECBOLE_BASES for variant in (semantic_init, fused)
)
