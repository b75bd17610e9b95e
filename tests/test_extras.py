"""The core installs and runs without the optional extras; a feature whose extra is missing stops with one line that
names the `pip install` command. A missing package is simulated by a `None` entry in `sys.modules` (what Python's
import system reads as "not importable")."""
from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

from recbole_semsr.cli import main
from recbole_semsr.compat import MissingExtraError, require_extra
from recbole_semsr.embeddings.encoders import ENCODERS, EncoderExtraMissingError, get_encoder, minilm_model_path
from recbole_semsr.embeddings.errors import EmbeddingError

ROOT = Path(__file__).resolve().parents[1]
# What each extra brings and the core must import without: setup.cfg's extras and the modules they install.
EXTRA_MODULES = {"angle": "angle_emb", "llm2vec": "llm2vec", "llm": "chromadb", "graph": "torch_geometric"}
EXTRA_ONLY_MODULES = (*EXTRA_MODULES.values(), "peft", "datasets", "entmax")


def extras_require() -> dict[str, list[str]]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    section = parser["options.extras_require"]
    return {name: [line.strip() for line in section[name].splitlines() if line.strip()] for name in section}


def test_setup_cfg_has_the_named_extras_and_the_core_none_of_their_packages():
    extras = extras_require()
    assert extras["all"] == ["recbole-semsr[angle,llm2vec,llm,graph,serve]"]
    assert extras["test"][0] == "recbole-semsr[all]"
    assert [extras[name] for name in EXTRA_MODULES] == [["angle-emb>=0.5.6"], ["llm2vec>=0.2.3"],
                                                       ["chromadb>=1.5.9"], ["torch-geometric>=2.8.1"]]
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    core = parser["options"]["install_requires"]
    assert not [name for name in ("angle-emb", "llm2vec", "peft", "datasets", "chromadb", "torch-geometric", "entmax")
                if name in core]


def test_each_encoder_extra_is_an_extra_of_setup_cfg():
    named = {kind.extra for kind in ENCODERS.values() if kind.extra is not None}
    assert named == {("angle", "angle_emb"), ("llm2vec", "llm2vec")}
    assert all(EXTRA_MODULES[extra] == module for extra, module in named)


def test_every_module_of_the_package_imports_without_the_extras():
    """In a fresh interpreter where none of the extras' packages can be imported, every module of `recbole_semsr` and
    `dataset_converters` imports (the extras are only imported by the features that need them)."""
    script = (
        "import sys, pkgutil, importlib\n"
        f"for name in {EXTRA_ONLY_MODULES!r}:\n"
        "    sys.modules[name] = None\n"
        "import recbole_semsr, dataset_converters\n"
        "names = [m.name for p in (recbole_semsr, dataset_converters)\n"
        "         for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names), 'modules')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-2]) > 40


@pytest.mark.parametrize("encoder, module", [("angle", "angle_emb"), ("llm2vec", "llm2vec")])
def test_an_encoder_without_its_extra_stops_with_one_line_naming_pip_install(monkeypatch, encoder, module):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(EncoderExtraMissingError) as stopped:
        get_encoder(encoder, minilm_model_path(), device="cpu")
    assert str(stopped.value) == (f"the {encoder} encoder needs the [{encoder}] extra (no module named {module!r}): "
                                  f'pip install "recbole-semsr[{encoder}]"')
    assert isinstance(stopped.value, (EmbeddingError, ImportError))


def test_a_package_that_the_extra_brings_along_is_named_when_it_is_the_one_missing(tmp_path, monkeypatch):
    """The extra's own module is there, but a package it imports is not (e.g. angle_emb without peft)."""
    (tmp_path / "half_installed").mkdir()
    (tmp_path / "half_installed" / "__init__.py").write_text("import dependency_not_installed\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtraError) as stopped:
        require_extra("half_installed", "angle", "the angle encoder")
    assert str(stopped.value) == ("the angle encoder needs the [angle] extra (no module named "
                                  "'dependency_not_installed'): pip install \"recbole-semsr[angle]\"")


def test_sem_encoder_angle_without_the_extra_ends_the_run_with_that_line(tiny_run_config, monkeypatch):
    monkeypatch.setitem(sys.modules, "angle_emb", None)
    args = [f"--{key}={value}" for key, value in tiny_run_config.items()]
    with pytest.raises(SystemExit) as stopped:
        main(["--model=SemNISER_F", "--dataset=ml-100k", "--sem_encoder=angle",
              f"--sem_model_path={minilm_model_path()}", *args])
    assert str(stopped.value) == ("error: the angle encoder needs the [angle] extra (no module named 'angle_emb'): "
                                  'pip install "recbole-semsr[angle]"')


def test_llm_rec_with_chroma_but_without_the_llm_extra_stops_before_any_work(monkeypatch):
    from recbole_semsr.llm_rec import __main__ as llm_rec

    monkeypatch.setitem(sys.modules, "chromadb", None)
    monkeypatch.setattr(llm_rec, "make_backend", lambda *args, **kwargs: pytest.fail("the backend was built first"))
    with pytest.raises(SystemExit) as stopped:
        llm_rec.main(["--dataset=toy", "--backend=openai", "--llm=m", "--index=chroma"])
    assert str(stopped.value) == ("error: --index=chroma needs the [llm] extra (no module named 'chromadb'): "
                                  'pip install "recbole-semsr[llm]"')
    assert issubclass(MissingExtraError, ImportError)
