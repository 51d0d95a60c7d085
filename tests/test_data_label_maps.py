"""Shipped label maps: sizes, aliases, known entries, custom files."""

from __future__ import annotations

import pytest

from pyskl.label_maps import available_label_maps, load_label_map

SIZES = {
    "gym99": 99,
    "nturgbd_60": 60,
    "nturgbd_120": 120,
    "kinetics400": 400,
    "ucf101": 101,
    "hmdb51": 51,
    "diving48": 48,
}


@pytest.mark.parametrize("name,size", sorted(SIZES.items()))
def test_sizes_and_unique(name, size):
    names = load_label_map(name)
    assert len(names) == size
    # Gym99's element list itself names two classes "(BB) salto backward tucked" (different sets).
    assert len(set(names)) == size - (name == "gym99")


def test_aliases_and_known_entries():
    assert load_label_map("ntu60") == load_label_map("NTU120")[:60]
    assert load_label_map("ntu120")[0] == "drink water"
    assert load_label_map("ntu120")[59] == "walking apart from each other"
    assert load_label_map("ntu120")[119] == "finger-guessing game (playing rock-paper-scissors)"
    k400 = load_label_map("k400")
    assert k400[0] == "abseiling" and k400[-1] == "zumba" and k400 == sorted(k400, key=str.lower)
    assert load_label_map("ucf101")[0] == "ApplyEyeMakeup" and load_label_map("hmdb")[-1] == "wave"
    assert set(SIZES) <= set(available_label_maps())
    gym = load_label_map("finegym")
    assert (
        gym[0].startswith("(VT) round-off")
        and gym[98] == "(UB) (swing forward) double salto backward stretched"
    )


def test_custom_file_and_unknown(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("a\n\nb\n")
    assert load_label_map(path) == ["a", "b"]
    with pytest.raises(FileNotFoundError, match="unknown label map 'nope'"):
        load_label_map("nope")
