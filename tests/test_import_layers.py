"""A simpler core (issue 25): lower layers import no higher one, checked in a fresh interpreter."""
import ast
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
    from recbole_semsr.model import get_model

    settings = dataset_settings("ml-100k", config_dict={"data_path": str(ml100k_slice), "sem_batch_size": "8"})
    config = SemSRConfig(get_model("NISER"), "ml-100k", config_dict={"data_path": str(ml100k_slice), "sem_batch_size": 8})
    shared = ("data_path", "dataset", "sem_text_template", "sem_embedding_dir", "field_separator", "ITEM_ID_FIELD")
    assert {key: settings[key] for key in shared} == {key: config[key] for key in shared}
    assert settings["sem_batch_size"] == 8 and "embedding_size" not in settings


PACKAGE = Path(__file__).resolve().parents[1] / "recbole_semsr"
CONVERTER_ENTRY_POINT = "dataset_converters.prepare"
"""The one converter module the package core imports: `ensure_dataset`, `conversion_summary` and their errors."""


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` statement of `path` names, at any depth."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_core_imports_no_converter_module_but_prepare():
    found = {f"{path.relative_to(PACKAGE.parent)}: {module}"
             for path in PACKAGE.rglob("*.py") for module in imported_modules(path)
             if module.startswith("dataset_converters") and module != CONVERTER_ENTRY_POINT}
    assert found == set()


def test_config_imports_no_model_nor_importlib():
    modules = imported_modules(PACKAGE / "config.py")
    assert not {module for module in modules if module.startswith("recbole_semsr.model")}
    assert "importlib" not in modules


def test_dataset_root_and_dataset_dir_undo_recboles_appended_name_once(ml100k_slice):
    from recbole_semsr.config import SemSRConfig, dataset_dir, dataset_root, dataset_settings
    from recbole_semsr.model import get_model

    config = SemSRConfig(get_model("NISER"), "ml-100k", config_dict={"data_path": str(ml100k_slice)})
    settings = dataset_settings("ml-100k", config_dict={"data_path": str(ml100k_slice)})
    for resolved in (config, settings):
        assert dataset_root(resolved) == ml100k_slice
        assert dataset_dir(resolved) == ml100k_slice / "ml-100k"
