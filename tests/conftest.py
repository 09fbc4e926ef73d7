"""Fixtures shared by the engine tests. The real model is loaded once per session, and only by the
tests that assert quality; plumbing tests use HashEmbedder."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from support import ROOT, SMALL_CORPUS, HashEmbedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """A private, writable copy of the tiny fixture corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(SMALL_CORPUS, target)
    return target


@pytest.fixture
def fake_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the real corpus built with the real model, shared by the session's tests."""
    from ldnqa import Assistant

    index_dir = tmp_path_factory.mktemp("real") / "index"
    Assistant.load(corpus_dir=ROOT / "corpus", index_dir=index_dir, log=lambda m: None)
    return index_dir


@pytest.fixture(scope="session")
def assistant(real_index_dir: Path):  # noqa: ANN201
    from ldnqa import Assistant

    return Assistant.load(corpus_dir=ROOT / "corpus", index_dir=real_index_dir, log=lambda m: None)
