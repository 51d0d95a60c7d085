"""``Compose``: run a list of pipeline ops on one sample dict, PYSKL semantics."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from ...registry import TRANSFORMS


class Compose:
    """Chain pipeline ops; op dicts are built through ``TRANSFORMS``, callables used as they are.

    Calling it returns the final sample dict, or ``None`` as soon as one op returns ``None``
    (PYSKL's way for an op to drop a sample).
    """

    def __init__(self, transforms: Iterable[dict | Callable]) -> None:
        if isinstance(transforms, (dict, str)) or not isinstance(transforms, Iterable):
            raise TypeError(f"Compose expects a list of op dicts or callables, got {type(transforms).__name__}")
        self.transforms: list[Callable] = []
        for index, op in enumerate(transforms):
            if isinstance(op, dict):
                self.transforms.append(TRANSFORMS.build(op))
            elif callable(op):
                self.transforms.append(op)
            else:
                raise TypeError(f"Compose: pipeline entry {index} must be a dict with 'type' or a callable, "
                                f"got {type(op).__name__}")

    def __call__(self, data: Any) -> Any:
        for op in self.transforms:
            data = op(data)
            if data is None:
                return None
        return data

    def __len__(self) -> int:
        return len(self.transforms)

    def __getitem__(self, index: int) -> Callable:
        return self.transforms[index]

    def __repr__(self) -> str:
        body = "".join(f"\n    {op!r}," for op in self.transforms)
        return f"{type(self).__name__}([{body}\n])"
