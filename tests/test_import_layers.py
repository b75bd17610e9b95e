"""A simpler core (issue 25): lower layers import no higher one, checked in a fresh interpreter."""
import subprocess
import sys
from pathlib import Path

import pytest


def modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(output.split())


@pytest.mark.parametrize("module, forbidden", [
    ("recbole_semsr.config", {"recbole_semsr.model", "recbole_semsr.cli"}),
    ("recbole_semsr.embeddings.__main__", {"recbole_semsr.cli", "recbole_semsr.model", "recbole_semsr.quick_start"}),
    ("recbole_semsr.llm_rec.__main__", {"recbole_semsr.cli", "recbole_semsr.model", "recbole_semsr.quick_start"}),
])
def test_lower_layers_do_not_import_higher_ones(module, forbidden):
    assert modules_after_import(module) & forbidden == set()


def test_dataset_settings_need_no_model(ml100k_slice):
    from recbole_semsr.config import SemSRConfig, dataset_settings

    settings = dataset_settings("ml-100k", config_dict={"data_path": str(ml100k_slice), "sem_batch_size": "8"})
    config = SemSRConfig("NISER", "ml-100k", config_dict={"data_path": str(ml100k_slice), "sem_batch_size": 8})
    shared = ("data_path", "dataset", "sem_text_template", "sem_embedding_dir", "field_separator", "ITEM_ID_FIELD")
    assert {key: settings[key] for key in shared} == {key: config[key] for key in shared}
    assert settings["sem_batch_size"] == 8 and "embedding_size" not in settings


def test_dataset_root_and_dataset_dir_undo_recboles_appended_name_once(ml100k_slice):
    from recbole_semsr.config import SemSRConfig, dataset_dir, dataset_root, dataset_settings
    from recbole_semsr.model import get_model

    config = SemSRConfig(get_model("NISER"), "ml-100k", config_dict={"data_path": str(ml100k_slice)})
    settings = dataset_settings("ml-100k", config_dict={"data_path": str(ml100k_slice)})
    for resolved in (config, settings):
        assert dataset_root(resolved) == ml100k_slice
        assert dataset_dir(resolved) == ml100k_slice / "ml-100k"
