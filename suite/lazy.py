"""Heavy libraries (torch, timm, peft) imported on first use, so that the fast verbs never pay for them.

`list`, `run --dry-run` and `report` read the strategy and architecture registries, whose modules also hold
training code. Those modules bind `torch = lazy_module("torch")` at the top and use it inside their functions; the
real import happens on the first attribute access, i.e. the first time a cell actually builds or trains a model.

Written by hand (20 lines) because `lazy_loader.load` and `importlib.util.LazyLoader` put a half-initialised module
into `sys.modules`: torch's own import then walks `sys.modules` (`inspect.getmodule`), touches the lazy timm module,
and fails with a circular import. This proxy is never placed in `sys.modules`.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands in for `import <name>`: the module is imported when an attribute is first read."""

    def __init__(self, name: str) -> None:
        self.__dict__["_name"] = name
        self.__dict__["_module"] = None

    def _load(self) -> ModuleType:
        module = self.__dict__["_module"]
        if module is None:
            module = self.__dict__["_module"] = importlib.import_module(self.__dict__["_name"])
        return module

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._load(), attribute)

    def __repr__(self) -> str:
        state = "loaded" if self.__dict__["_module"] is not None else "not loaded yet"
        return f"<lazy module {self.__dict__['_name']!r} ({state})>"


def lazy_module(name: str) -> Any:
    """`torch = lazy_module("torch")`; typed as Any so that call sites read like the real module."""
    return LazyModule(name)
