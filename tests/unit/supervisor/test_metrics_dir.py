"""The fleet's metrics directory (supervisor/metrics_dir.py): made under the data dir,
emptied of an earlier run's files, and named in this process's environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proto import METRICS_DIR_ENV
from supervisor.config import ConfigError
from supervisor.metrics_dir import share_metrics_dir


def test_it_is_made_emptied_and_exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(METRICS_DIR_ENV, "restored after the test")
    fresh = share_metrics_dir(str(tmp_path / "data"))
    assert fresh == (tmp_path / "data" / "run" / "metrics").resolve()
    assert fresh.is_dir()
    assert os.environ[METRICS_DIR_ENV] == str(fresh)
    (fresh / "counter_4242.db").write_bytes(b"an earlier run")
    (fresh / "gauge_livesum_4242.db").write_bytes(b"an earlier run")
    (fresh / "counter_archive.db").write_bytes(b"an earlier run's folded values")
    (fresh / "histogram_archive-1.db.pending").write_bytes(b"a fold cut short")
    (fresh / "notes.txt").write_text("not ours to delete")
    assert share_metrics_dir(str(tmp_path / "data")) == fresh
    assert sorted(p.name for p in fresh.iterdir()) == ["notes.txt"]


def test_a_directory_that_cannot_be_made_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(METRICS_DIR_ENV, "restored after the test")
    (tmp_path / "data").write_text("a file where the data dir should be")
    with pytest.raises(ConfigError, match="metrics directory"):
        share_metrics_dir(str(tmp_path / "data"))
