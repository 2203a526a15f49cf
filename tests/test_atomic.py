"""Atomic writes: leftovers of a killed writer are cleaned on the next write; nothing else beside the target is."""

from __future__ import annotations

import subprocess
import sys
import time

from hyperalign.atomic import atomic_directory, remove_stale_leftovers, write_text_atomic


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_next_write_removes_leftovers_of_a_killed_writer(tmp_path):
    """Probe: kill -9 during a write left hidden ``.<name>.<pid>-<hex>.tmp`` / ``.old`` directories for ever."""
    pid = _dead_pid()
    stale = [
        tmp_path / f".t3.{pid}-0123456789ab.tmp",
        tmp_path / f".t3.{pid}-ba9876543210.old",
    ]
    for d in stale:
        d.mkdir()
        (d / "shard.npy").write_bytes(b"x" * 100)
    stale_file = tmp_path / f".notes.txt.{pid}-0123456789ab.tmp.txt"
    stale_file.write_text("half")
    with atomic_directory(tmp_path / "t3", lambda p: False) as tmp:
        (tmp / "a").write_text("1")
    write_text_atomic(tmp_path / "notes.txt", "whole")
    assert not any(d.exists() for d in stale) and not stale_file.exists()
    assert (tmp_path / "t3" / "a").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "t3"]


def test_leftover_cleaning_spares_live_writers_and_foreign_names(tmp_path):
    live = tmp_path / f".t3.{subprocess.os.getpid()}-0123456789ab.tmp"  # this process: still writing
    foreign = [tmp_path / ".t3.mine.tmp", tmp_path / ".t3.123-xyz.old", tmp_path / ".t30.1-0123456789ab.tmp",
               tmp_path / "t3.1-0123456789ab.tmp"]  # fmt: skip
    for d in [live, *foreign]:
        d.mkdir()
    assert remove_stale_leftovers(tmp_path / "t3") == []
    assert all(d.exists() for d in [live, *foreign])


def test_a_killed_writer_leaves_a_recognisable_name(tmp_path):
    code = (
        "import os, sys\n"
        "from hyperalign.atomic import atomic_directory\n"
        "with atomic_directory(sys.argv[1], lambda p: True) as tmp:\n"
        "    (tmp / 'x').write_text('1')\n"
        "    os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "t3")], check=False)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".t3.") and left[0].endswith(".tmp"), left
    assert remove_stale_leftovers(tmp_path / "t3") and not any(tmp_path.iterdir())


def test_leftovers_of_a_killed_writer_not_yet_reaped_are_removed(tmp_path):
    """A writer killed while its parent is gone too can stay a zombie (its pid answers signals) until something reaps
    it; its leftovers are stale all the same."""
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    for _ in range(500):  # exited, and deliberately not reaped yet
        if open(f"/proc/{zombie.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
            break
        time.sleep(0.01)
    stale = tmp_path / f".t3.npy.{zombie.pid}-0123456789ab.tmp.npy"
    stale.write_bytes(b"half")
    assert remove_stale_leftovers(tmp_path / "t3.npy") == [stale]
    zombie.wait()
