"""LLM as recommender (paper section 3.2, Table 3): FS-LLM, ZCoT-LLM and FSCoT-LLM prompts, LLM backends with a
generation cache, vector retrieval of the generated title (Chroma or exact), and RecBole-metric evaluation."""
