"""Files written under a temporary name and renamed into place (core.fsutil.replaced_on_success):
the old file or the new one, never a part; nothing left behind on an error."""

from __future__ import annotations

import os

import pytest

from cldata.core.fsutil import replaced_on_success


def test_the_new_file_takes_the_name_when_the_block_succeeds(tmp_path):
    target = tmp_path / "out.h5"
    target.write_bytes(b"old")
    with replaced_on_success(target, suffix=".nwb") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".nwb") and tmp.read_bytes() == b""
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # (not before the block ends)
    assert target.read_bytes() == b"new" and sorted(os.listdir(tmp_path)) == ["out.h5"]


@pytest.mark.parametrize("error", [ValueError("bad"), KeyboardInterrupt()])
def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path, error):
    target = tmp_path / "out.h5"
    target.write_bytes(b"old")
    with pytest.raises(type(error)):
        with replaced_on_success(target) as tmp:
            tmp.write_bytes(b"half")
            raise error
    assert target.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["out.h5"]


def test_a_link_planted_at_the_name_is_replaced_not_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    target = tmp_path / "out.h5"
    target.symlink_to(victim)
    with replaced_on_success(target) as tmp:
        tmp.write_bytes(b"new")
    assert victim.read_bytes() == b"keep" and not target.is_symlink() and target.read_bytes() == b"new"
