"""``pyskl extract`` sources: video files, globs, folders, class folders and list files; never a video read
as a list, and never two videos under one sample name."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pyskl.commands._common import UsageError
from pyskl.commands.extract import add_train_val_splits, collect_videos

FAKE_VIDEO = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"  # binary: what a video's first bytes look like


def _videos(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(FAKE_VIDEO)
    return folder


def _summary(items):
    return [(item.path.name, item.label) for item in items]


def test_one_file_several_files_and_a_glob(tmp_path):
    _videos(tmp_path, "a.mp4", "b.avi", "c.mkv", "notes.md")
    items, classes = collect_videos([str(tmp_path / "a.mp4")])
    assert _summary(items) == [("a.mp4", -1)] and classes == []
    items, _ = collect_videos([str(tmp_path / "a.mp4"), str(tmp_path / "c.mkv")])
    assert _summary(items) == [("a.mp4", -1), ("c.mkv", -1)]
    items, _ = collect_videos([str(tmp_path / "*")])  # globs keep only videos
    assert _summary(items) == [("a.mp4", -1), ("b.avi", -1), ("c.mkv", -1)]


def test_a_video_is_never_read_as_a_list(tmp_path):
    # a real video's bytes are not UTF-8; before, they were decoded as a list file
    video = tmp_path / "clip.mp4"
    video.write_bytes(FAKE_VIDEO + bytes(range(256)))
    items, _ = collect_videos([str(video)])
    assert _summary(items) == [("clip.mp4", -1)]


def test_a_text_file_named_like_a_video_is_refused(tmp_path):
    listing = tmp_path / "x.mp4"
    listing.write_text("a.mp4 0\n")
    with pytest.raises(UsageError, match=r"x\.mp4: a text file, not a video; .* \(name it x\.txt\)"):
        collect_videos([str(listing)])


def test_list_file_with_labels_and_relative_paths(tmp_path):
    _videos(tmp_path / "clips", "a.mp4", "b.mp4")
    listing = tmp_path / "train.list"
    listing.write_text("# path label\nclips/a.mp4 3\nclips/b.mp4 1\n")
    items, _ = collect_videos([str(listing)])
    assert _summary(items) == [("a.mp4", 3), ("b.mp4", 1)]
    assert items[0].path == tmp_path / "clips" / "a.mp4"


def test_class_folders_give_labels_in_name_order(tmp_path):
    _videos(tmp_path / "videos" / "wave", "w1.mp4", "w2.mp4")
    _videos(tmp_path / "videos" / "jump", "j1.avi")
    (tmp_path / "videos" / "empty_class").mkdir()
    items, classes = collect_videos([str(tmp_path / "videos")])
    assert classes == ["jump", "wave"]
    assert _summary(items) == [("j1.avi", 0), ("w1.mp4", 1), ("w2.mp4", 1)]


@pytest.mark.parametrize("layout, message", [
    ({"dup/a.avi": 1, "dup/a.mp4": 1}, r"dup/a\.avi and .*dup/a\.mp4 would both be sample 'a'"),
    ({"dup/x/a.mp4": 1, "dup/y/a.mp4": 1}, r"x/a\.mp4 and .*y/a\.mp4 would both be sample 'a'"),
    ({"dup/v.mp4": 1, "dup/cls/w.mp4": 1}, r"dup: holds both videos and class folders"),
    ({"dup/readme.txt": 0}, r"dup: no videos in this folder"),
])
def test_folders_that_cannot_be_samples_are_refused(tmp_path, layout, message):
    for rel, is_video in layout.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(FAKE_VIDEO if is_video else b"text")
    with pytest.raises(UsageError, match=message):
        collect_videos([str(tmp_path / "dup")])


def test_missing_sources_are_named(tmp_path):
    with pytest.raises(UsageError, match=r"nothing\.mp4: no such file or folder"):
        collect_videos([str(tmp_path / "nothing.mp4")])
    with pytest.raises(UsageError, match=r"\*\.mov: the pattern matches no video"):
        collect_videos([str(tmp_path / "*.mov")])


def test_train_val_splits_per_class(tmp_path):
    kp = np.zeros((1, 4, 17, 2), np.float32)
    anns = [dict(frame_dir=f"{c}{i}", label=label, keypoint=kp, keypoint_score=kp[..., 0], total_frames=4,
                 img_shape=(10, 10)) for label, c in enumerate("ab") for i in range(4)]
    anns.append(dict(anns[0], frame_dir="c0", label=2))  # a class with one video keeps it for training
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"split": {"extract": [a["frame_dir"] for a in anns]}, "annotations": anns}))
    assert add_train_val_splits(str(path), 0.25) == (7, 2)
    split = pickle.loads(path.read_bytes())["split"]
    assert split["val"] == ["a3", "b3"] and split["train"] == ["a0", "a1", "a2", "b0", "b1", "b2", "c0"]
    assert len(split["extract"]) == 9
