"""The README's "Your own videos" commands, run verbatim on clips cut from ../shared/samples/ntu_sample.avi.

The commands are read from the README, so the section cannot drift from what works. The clips make two
classes: ``wave`` (windows of the sample as recorded) and ``jump`` (the same windows played backwards).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, require_shared

CLIP_FRAMES = 32
CLIP_STARTS = (0, 8, 16, 24, 32, 40)
CLIP_SIZE = (270, 480)  # H, W: a quarter of the sample's 1080p, which keeps mediapipe fast


def readme_commands(section: str = "## Your own videos") -> list[str]:
    """The ``pyskl ...`` lines of the first bash block of ``section`` in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(section)
    block = re.search(r"```bash\n(.*?)```", text[start:], re.S)
    assert block is not None, f"no bash block under {section!r}"
    return [line.strip() for line in block.group(1).splitlines() if line.strip().startswith("pyskl ")]


def _cut_clips(video: Path, root: Path) -> None:
    import cv2

    from pyskl.pose.video_reader import iter_frames
    from pyskl.viz import VideoWriter

    frames = [cv2.resize(f, CLIP_SIZE[::-1], interpolation=cv2.INTER_AREA) for f in iter_frames(video)]
    for name, order in (("wave", 1), ("jump", -1)):
        folder = root / "my_videos" / name
        folder.mkdir(parents=True)
        for i, start in enumerate(CLIP_STARTS):
            clip = frames[start:start + CLIP_FRAMES][::order]
            with VideoWriter(folder / f"{name}_{i:02d}.mp4", fps=30) as writer:
                for frame in clip:
                    writer.write(np.ascontiguousarray(frame[..., ::-1]))  # VideoWriter takes RGB


def test_readme_lists_the_whole_path():
    verbs = [shlex.split(c)[1:3] for c in readme_commands()]
    assert verbs == [["extract", "my_videos"], ["data", "check"],
                     ["train", "configs/custom/stgcnpp_coco_own_videos.py"],
                     ["test", "work_dirs/my_actions/config.json"], ["demo", "my_videos/wave/wave_00.mp4"]]


@pytest.mark.slow
def test_readme_own_videos_commands_run_as_written(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mediapipe", reason="mediapipe not installed (pip install --no-deps mediapipe==0.10.14)")
    video = require_shared("samples", "ntu_sample.avi")
    _cut_clips(video, tmp_path)
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)

    from pyskl.cli import main
    from pyskl.core.results import load_results
    from pyskl.datasets.io import load_annotations

    for command in readme_commands():
        assert main(shlex.split(command)[1:]) == 0, f"{command}\n{capsys.readouterr()}"

    data = load_annotations("my_skeletons.pkl")
    assert len(data["annotations"]) == 2 * len(CLIP_STARTS)
    # per class: the last ceil(0.25 * 6) = 2 clips by name validate, the other 4 train
    assert data["split"]["val"] == ["jump_04", "jump_05", "wave_04", "wave_05"]
    assert len(data["split"]["train"]) == 8
    assert Path("my_skeletons.labels.txt").read_text().split() == ["jump", "wave"]
    results = load_results("work_dirs/my_actions/results.pkl")
    assert results["scores"].shape == (4, 2) and results["labels"].tolist() == [0, 0, 1, 1]
    assert Path("wave_demo.mp4").stat().st_size > 0
    import json

    timeline = json.loads(Path("wave_demo.json").read_text())
    names = {seg["label_name"] for seg in timeline["segments"]} if isinstance(timeline, dict) else set()
    assert names and names <= {"jump", "wave"}, timeline
