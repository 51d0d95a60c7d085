"""``Compose``: run a list of pipeline ops on one sample dict, PYSKL semantics."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ...registry import TRANSFORMS

__all__ = ["Compose", "MissingKeyError", "PipelineError", "Transform", "UnknownArgumentWarning", "require",
           "require_array"]


class PipelineError(ValueError):
    """Bad input to a pipeline op; the message names the op and the results key."""


class MissingKeyError(PipelineError, KeyError):
    """A key an op needs is not in the results dict."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownArgumentWarning(UserWarning):
    """A pipeline op was given a constructor argument it does not know; the argument is ignored."""


def _accepting_unknown(init: Callable) -> Callable:
    """``init`` that drops keyword arguments it does not declare, with one warning naming them.

    PYSKL's ops take unknown arguments (``test_mode=True``, a typo such as ``num_clip``) with a
    warning, or silently; configs written for it must still build, and the user must hear about it.
    """
    params = inspect.signature(init).parameters
    known = {name for name, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        unknown = [key for key in kwargs if key not in known]
        if unknown:
            names = ", ".join(repr(k) for k in unknown)
            warnings.warn(f"{type(self).__name__}: ignoring unknown argument(s) {names}",
                          UnknownArgumentWarning, stacklevel=2)
            kwargs = {k: v for k, v in kwargs.items() if k in known}
        init(self, *args, **kwargs)

    return wrapper


class Transform:
    """Base of the pipeline ops: ``repr`` shows the constructor arguments stored on the op.

    A subclass's ``__init__`` without ``**kwargs`` is wrapped so that unknown keyword arguments
    warn (``UnknownArgumentWarning``, naming op and argument) and are dropped, as PYSKL accepts them.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        params = inspect.signature(init).parameters.values()
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            cls.__init__ = _accepting_unknown(init)


    def __repr__(self) -> str:
        params = inspect.signature(type(self).__init__).parameters.values()
        names = [p.name for p in params if p.name != "self" and p.kind is not p.VAR_KEYWORD]
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in names if hasattr(self, n))
        return f"{type(self).__name__}({args})"


def _no_arguments(self: Transform) -> None:
    """An op without constructor arguments."""


Transform.__init__ = _accepting_unknown(_no_arguments)  # type: ignore[method-assign]


def _op_name(op: Any) -> str:
    return op if isinstance(op, str) else type(op).__name__


def require(op: Any, results: Any, key: str) -> Any:
    """``results[key]``, or a ``MissingKeyError`` naming the op, the key and the keys present."""
    if not isinstance(results, dict):
        raise PipelineError(f"{_op_name(op)}: expects a results dict, got {type(results).__name__}")
    if key not in results:
        raise MissingKeyError(
            f"{_op_name(op)}: required key {key!r} is missing from results "
            f"(keys: {', '.join(map(str, results))})"
        )
    return results[key]


def require_array(
    op: Any, results: Any, key: str, ndim: int | None = None, last_dim: tuple[int, ...] | None = None
) -> np.ndarray:
    """``results[key]`` checked to be a numeric ndarray of ``ndim`` dims (last axis in ``last_dim``)."""
    value = require(op, results, key)
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "iuf":
        raise PipelineError(
            f"{_op_name(op)}: results[{key!r}] must be a numeric numpy array, got "
            f"{getattr(value, 'dtype', type(value).__name__)}"
        )
    if ndim is not None and value.ndim != ndim:
        raise PipelineError(
            f"{_op_name(op)}: results[{key!r}] must have {ndim} dims, got shape {value.shape}"
        )
    if last_dim is not None and value.shape[-1] not in last_dim:
        raise PipelineError(
            f"{_op_name(op)}: results[{key!r}] must have last axis in {last_dim}, got shape {value.shape}"
        )
    return value


class Compose:
    """Chain pipeline ops; op dicts are built through ``TRANSFORMS``, callables used as they are.

    Calling it returns the final sample dict, or ``None`` as soon as one op returns ``None``
    (PYSKL's way for an op to drop a sample).
    """

    def __init__(self, transforms: Iterable[dict | Callable]) -> None:
        if isinstance(transforms, (dict, str)) or not isinstance(transforms, Iterable):
            raise TypeError(
                f"Compose expects a list of op dicts or callables, got {type(transforms).__name__}"
            )
        self.transforms: list[Callable] = []
        for index, op in enumerate(transforms):
            if isinstance(op, dict):
                self.transforms.append(TRANSFORMS.build(op))
            elif callable(op):
                self.transforms.append(op)
            else:
                raise TypeError(
                    f"Compose: pipeline entry {index} must be a dict with 'type' or a callable, "
                    f"got {type(op).__name__}"
                )

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
