"""Class-name lists of the public benchmarks, one name per line, line i = label i.

``load_label_map('ntu120')`` (or a file path) returns the list of class names;
``label_map_for_config(cfg)`` names the shipped map of a config's dataset, and ``class_names`` gives the
names a model's scores are shown with, refusing a map of another length.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["LABEL_MAPS", "available_label_maps", "class_names", "label_map_for_config", "load_label_map"]

_HERE = Path(__file__).resolve().parent

# canonical file stem -> accepted aliases (lower-case)
LABEL_MAPS: dict[str, tuple[str, ...]] = {
    "nturgbd_60": ("ntu60", "ntu_60", "nturgbd60", "ntu60_3danno", "ntu60_hrnet"),
    "nturgbd_120": ("ntu120", "ntu_120", "nturgbd120", "ntu120_3danno", "ntu120_hrnet"),
    "kinetics400": ("k400", "kinetics", "kinetics_400", "k400_hrnet"),
    "ucf101": ("ucf", "ucf_101"),
    "hmdb51": ("hmdb", "hmdb_51"),
    "diving48": ("diving", "diving_48"),
    # FineGym Gym99 element names; Clabel 58 and 70 share the name "(BB) salto backward tucked"
    # (beam acrobatics vs dismount sets in the original list).
    "gym99": ("gym", "finegym", "finegym99", "gym_99", "gym_hrnet"),
    # PYSKL's gesture model: 27 Jester dynamic gestures, then 13 HaGRID static ones
    "hagrid": ("gesture", "jester_hagrid"),
}

# text in a config's annotation file name -> the shipped label map of that dataset (first match wins)
_DATASET_HINTS: tuple[tuple[str, str], ...] = (
    ("ntu120", "nturgbd_120"), ("ntu60", "nturgbd_60"), ("k400", "kinetics400"), ("kinetics", "kinetics400"),
    ("gym", "gym99"), ("ucf101", "ucf101"), ("hmdb51", "hmdb51"), ("diving48", "diving48"),
    ("hagrid", "hagrid"),
)


def available_label_maps() -> list[str]:
    """Names of the label maps shipped with the package."""
    return sorted(p.stem for p in _HERE.glob("*.txt"))


def _resolve(name: str) -> Path | None:
    key = name.lower().replace("-", "_")
    for stem, aliases in LABEL_MAPS.items():
        if key == stem or key in aliases:
            return _HERE / f"{stem}.txt"
    candidate = _HERE / f"{key}.txt"
    return candidate if candidate.is_file() else None


def load_label_map(name_or_path: str | Path) -> list[str]:
    """Class names for a shipped label map (name or alias) or a text file with one name per line.

    Raises:
        FileNotFoundError: neither a known name nor an existing file.
    """
    path = Path(name_or_path)
    if not path.is_file():
        shipped = _resolve(str(name_or_path))
        if shipped is None:
            raise FileNotFoundError(
                f"unknown label map {str(name_or_path)!r}: not a file and not one of "
                f"{', '.join(available_label_maps())}"
            )
        path = shipped
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def _ann_files(cfg: dict) -> list[str]:
    found = [cfg.get("ann_file")]
    for split in ("train", "val", "test"):
        node = (cfg.get("data") or {}).get(split) or {}
        while isinstance(node, dict):
            found.append(node.get("ann_file"))
            node = node.get("dataset")
    return [f for f in found if isinstance(f, str) and f]


def label_map_for_config(cfg: dict) -> str | None:
    """The shipped label map of the config's dataset (from its annotation file names), or None.

    The map is returned only when its length equals the config's ``model.cls_head.num_classes``.
    """
    num_classes = ((cfg.get("model") or {}).get("cls_head") or {}).get("num_classes")
    text = " ".join(Path(f).name.lower() for f in _ann_files(cfg))
    if "handmp" in str(((cfg.get("model") or {}).get("backbone") or {}).get("graph_cfg")):
        text += " hagrid"
    for hint, stem in _DATASET_HINTS:
        if hint in text:
            if num_classes is None or len(load_label_map(stem)) == int(num_classes):
                return stem
            return None
    return None


def class_names(num_classes: int, label_map: str | Path | list[str] | tuple[str, ...] | None = None,
                config: dict | None = None) -> list[str]:
    """The names of a model's ``num_classes`` classes.

    ``label_map`` (a shipped name, a file or a list) must have exactly ``num_classes`` names; without one,
    the shipped map of the config's dataset (:func:`label_map_for_config`) is used when known, else the
    class numbers.

    Raises:
        ValueError: the label map has another number of names than the model has classes.
    """
    if label_map is None and config is not None:
        label_map = label_map_for_config(config)
    if label_map is None:
        return [str(i) for i in range(num_classes)]
    names = load_label_map(label_map) if isinstance(label_map, (str, Path)) else list(label_map)
    if len(names) != num_classes:
        shown = label_map if isinstance(label_map, (str, Path)) else "given"
        raise ValueError(f"label map {str(shown):.80} has {len(names)} names but the model has {num_classes} "
                         f"classes: pass the label map of the dataset the model was trained on")
    return names
