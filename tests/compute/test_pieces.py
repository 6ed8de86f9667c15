"""Pieces of data: every row read exactly once, typed as a whole file reads, and outputs that appear whole or not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gitops_ml.compute.pieces import atomic_dirs, files_of, pieces_of, read_head, read_piece, write_part


def table(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(rows)
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": rng.normal(size=rows),
            "word": rng.choice(["alpha", "beta", "gamma, with a comma"], size=rows),
            "flag": rng.random(rows) < 0.5,
        }
    )


@pytest.mark.parametrize("partition_mb", [0.001, 0.004, 0.05, 10])
def test_csv_pieces_read_every_row_once_in_order_as_the_whole_file_reads(tmp_path: Path, partition_mb: float) -> None:
    path = tmp_path / "data.csv"
    table(3000).to_csv(path, index=False)
    pieces = pieces_of(path, partition_mb)
    assert len(pieces) == max(1, -(-path.stat().st_size // int(partition_mb * 2**20)))
    together = pd.concat([read_piece(p) for p in pieces], ignore_index=True)
    pd.testing.assert_frame_equal(together, pd.read_csv(path, engine="pyarrow"))


def test_parquet_row_groups_are_grouped_up_to_the_partition_size_never_cut(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    frame = table(10_000)
    frame.to_parquet(path, index=False, row_group_size=1000)
    whole = pieces_of(path, 100)
    assert [(p.row_groups, p.rows) for p in whole] == [(tuple(range(10)), 10_000)]
    small = pieces_of(path, 0.0001)  # smaller than one row group: one group each
    assert [p.row_groups for p in small] == [(i,) for i in range(10)]
    assert all(p.rows == 1000 for p in small)
    assert "data.parquet (row group 3)" in small[3].describe()
    pd.testing.assert_frame_equal(pd.concat([read_piece(p) for p in small], ignore_index=True), pd.read_parquet(path))
    assert read_piece(small[0], ["x"]).columns.tolist() == ["x"]


def test_a_directory_is_its_parquet_files_by_name_and_hidden_ones_are_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    for index in (0, 2, 1, 10):
        write_part(table(100).assign(id=index), folder, index)
    (folder / "_manifest.json").write_text("{}")
    (folder / ".part-00003.parquet.tmp").write_text("half written")
    assert [p.name for p in files_of(folder)] == [f"part-{i:05d}.parquet" for i in (0, 1, 2, 10)]
    pieces = pieces_of(folder, 64)
    assert [read_piece(p)["id"].iloc[0] for p in pieces] == [0, 1, 2, 10]
    assert pd.read_parquet(folder)["id"].unique().tolist() == [0, 1, 2, 10]  # pandas reads the parts in that order
    assert read_head(folder, 150)["id"].tolist() == [0] * 100 + [1] * 50


def test_outputs_appear_together_replacing_what_was_there_or_not_at_all(tmp_path: Path) -> None:
    file_before, dir_before = tmp_path / "a.parquet", tmp_path / "b.parquet"
    table(10).to_parquet(file_before)
    dir_before.mkdir()
    (dir_before / "old.parquet").write_text("old")

    def failing_stage() -> None:
        with atomic_dirs(file_before, dir_before) as (one, _):
            write_part(table(5), one, 0)
            raise RuntimeError("a partition failed")

    with pytest.raises(RuntimeError):
        failing_stage()
    assert file_before.is_file() and (dir_before / "old.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet", "b.parquet"]  # no temporary left
    with atomic_dirs(file_before, dir_before) as (one, two):
        write_part(table(5), one, 0)
        write_part(table(7), two, 0)
    assert len(pd.read_parquet(file_before)) == 5 and len(pd.read_parquet(dir_before)) == 7
    assert [p.name for p in dir_before.iterdir()] == ["part-00000.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet", "b.parquet"]
