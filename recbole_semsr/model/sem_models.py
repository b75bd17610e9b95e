"""The registered SemSR variants, by name: SemSR-I (`semantic_init`) and SemSR-F (`fused`) around this package's
session models (the paper's bases) and RecBole's."""
from __future__ import annotations

from recbole.model.sequential_recommender import GRU4Rec, NARM, SASRec, SRGNN

from recbole_semsr.model.msgat import MSGAT
from recbole_semsr.model.niser import NISER
from recbole_semsr.model.semsr import fused, semantic_init

PAPER_BASES = (NISER, MSGAT)
RECBOLE_BASES = (GRU4Rec, NARM, SASRec, SRGNN)


def sem_variants(base: type) -> tuple[type, type]:
    """`Sem<Base>_I` and `Sem<Base>_F`: SemSR-I and SemSR-F around `base`."""
    return semantic_init(base), fused(base)


SemNISER_I, SemNISER_F = sem_variants(NISER)
SemMSGAT_I, SemMSGAT_F = sem_variants(MSGAT)
SemGRU4Rec_I, SemGRU4Rec_F = sem_variants(GRU4Rec)
SemNARM_I, SemNARM_F = sem_variants(NARM)
SemSASRec_I, SemSASRec_F = sem_variants(SASRec)
SemSRGNN_I, SemSRGNN_F = sem_variants(SRGNN)

SEM_MODELS: tuple[type, ...] = (
    SemNISER_I, SemNISER_F, SemMSGAT_I, SemMSGAT_F, SemGRU4Rec_I, SemGRU4Rec_F,
    SemNARM_I, SemNARM_F, SemSASRec_I, SemSASRec_F, SemSRGNN_I, SemSRGNN_F,
)
