"""Three plain-dict registries whose names are PYSKL's class and op names."""
from __future__ import annotations

import difflib
from typing import Any, Callable, Iterator


class UnknownTypeError(KeyError):
    """A config names a type that is not registered (a ``KeyError``, as before, for callers that catch it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class BuildError(TypeError):
    """A registered type rejected the config's arguments (a ``TypeError``, as before)."""


class Registry:
    """A name -> class map with a decorator to fill it and ``build(cfg)`` to use it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._items: dict[str, Callable] = {}

    def register(self, name: str | None = None) -> Callable:
        def deco(obj: Callable) -> Callable:
            key = name or obj.__name__
            if key in self._items:
                raise KeyError(f"{key!r} is already registered in the {self.name} registry")
            self._items[key] = obj
            return obj

        return deco

    def get(self, name: str) -> Callable:
        if name not in self._items:
            close = difflib.get_close_matches(name, self._items, n=5, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownTypeError(f"unknown {self.name} type {name!r}{hint} "
                           f"(registered: {', '.join(sorted(self._items))})")
        return self._items[name]

    def build(self, cfg: dict, **defaults: Any) -> Any:
        """``cfg['type']`` (a registered name or a class) called with the other keys."""
        if not isinstance(cfg, dict) or "type" not in cfg:
            raise TypeError(f"a {self.name} config must be a dict with a 'type' key, got {cfg!r}")
        args = dict(cfg)
        kind = args.pop("type")
        cls = self.get(kind) if isinstance(kind, str) else kind
        for key, value in defaults.items():
            args.setdefault(key, value)
        try:
            return cls(**args)
        except TypeError as err:
            raise BuildError(f"building {self.name} {getattr(cls, '__name__', cls)!r}: {err}") from err

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {len(self._items)} items)"


MODELS = Registry("model")
TRANSFORMS = Registry("transform")
DATASETS = Registry("dataset")
