"""The registered SemSR variants, by name: SemSR-I (`semantic_init`) and SemSR-F (`fused`) around this package's
session models (the paper's bases) and RecBole's."""
from __future__ import annotations

from recbole.model.sequential_recommender import GRU4Rec, NARM, SASRec, SRGNN

from recbole_semsr.model.msgat import MSGAT
from recbole_semsr.model.niser import NISER
from recbole_semsr.model.semsr import fused, semantic_init

PAPER_BASES = (NISER, MSGAT)
RECBOLE_BASES = (GRU4Rec, NARM, SASRec, SRGNN)

SemNISER_I = semantic_init(NISER)
SemNISER_F = fused(NISER)
SemMSGAT_I = semantic_init(MSGAT)
SemMSGAT_F = fused(MSGAT)
SemGRU4Rec_I = semantic_init(GRU4Rec)
SemGRU4Rec_F = fused(GRU4Rec)
SemNARM_I = semantic_init(NARM)
SemNARM_F = fused(NARM)
SemSASRec_I = semantic_init(SASRec)
SemSASRec_F = fused(SASRec)
SemSRGNN_I = semantic_init(SRGNN)
SemSRGNN_F = fused(SRGNN)

SEM_MODELS: tuple[type, ...] = (
    SemNISER_I, SemNISER_F, SemMSGAT_I, SemMSGAT_F, SemGRU4Rec_I, SemGRU4Rec_F,
    SemNARM_I, SemNARM_F, SemSASRec_I, SemSASRec_F, SemSRGNN_I, SemSRGNN_F,
)
