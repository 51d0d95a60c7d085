"""Class-name lists of the public benchmarks, one name per line, line i = label i.

``load_label_map('ntu120')`` (or a file path) returns the list of class names.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["LABEL_MAPS", "load_label_map", "available_label_maps"]

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
}


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
