"""Issue 11, R1: the corpus test covers what the issue names, with its 2 s limit.

The per-file test itself lives in ``tests/unit/test_pydicom_corpus.py`` (every file through
``medview info --load``: opens or is refused with a reason, under 2 s each, slowest printed).
This checks that its corpus is complete: the 176 test files pydicom ships plus the character
set and palette sets, and that the limit it asserts is the issue's.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pydicom.data import get_charset_files, get_palette_files, get_testdata_files

CORPUS_TEST = Path(__file__).parents[1] / "unit" / "test_pydicom_corpus.py"


def _corpus_module():
    spec = importlib.util.spec_from_file_location("_r1_corpus", CORPUS_TEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpus_holds_every_test_charset_and_palette_file():
    corpus = _corpus_module()
    files = set(corpus.ALL_FILES)
    test_files = {p for p in get_testdata_files() if Path(p).is_file()}
    charsets, palettes = set(get_charset_files()), set(get_palette_files())
    assert len(test_files) >= 176
    assert charsets and palettes
    assert test_files | charsets | palettes <= files
    assert corpus.MAX_SECONDS == 2.0
