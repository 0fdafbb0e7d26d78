"""Permissive stand-ins for modules that cannot be imported.

A stub answers every attribute, call, subscript and iteration with another stub, so model
code that merely *mentions* an unavailable module (a decorator, a base class, a type hint)
still imports. Every time a stub is turned into a concrete value (compared, tested for
truth, read as `.value`, used as a base class) the use is recorded with the model file and
line that did it: those are the places where a stub may have changed the schema.

Runs inside the loader child; standard library only.
"""

from __future__ import annotations

import builtins
import linecache
import re
import sys
import types
from dataclasses import dataclass

# A marker that survives into compiled DDL, so a stub that reaches a server default or an
# index expression can be found in the output afterwards.
STUB_MARKER = "__modeldiff_stub__"


@dataclass(frozen=True)
class StubUse:
    path: str  # dotted name of the stub, e.g. "configs.dify_config.DB_TYPE"
    how: str  # "compared", "truth-tested", "value", "base-class", "iterated", "str"
    file: str  # repo-relative file of the code that used it ("" if unknown)
    line: int
    reached_as: str = ""  # the settable name the code read it through: "configs.dify_config.DB_TYPE"


class StubRecorder:
    """Collects stub uses that happen in repository code (not in libraries)."""

    def __init__(self) -> None:
        self.uses: list[StubUse] = []
        self.stubbed_modules: dict[str, str] = {}  # module name -> why it was stubbed
        self._roots: list[tuple[str, str]] = []  # (materialized dir prefix, repo prefix)

    def add_root(self, local_prefix: str, repo_prefix: str) -> None:
        self._roots.append((local_prefix, repo_prefix))

    def repo_path(self, filename: str) -> str | None:
        for local, repo in self._roots:
            if filename.startswith(local):
                return repo + filename[len(local):]
        return None

    def record(self, stub, how: str) -> None:
        """Record a use of `stub` (a Stub, or its path) by the repository code calling us."""
        path = stub._path if isinstance(stub, Stub) else stub
        frame = sys._getframe(2)
        if how in ("compared", "truth-tested", "iterated"):
            where = self.repo_path(frame.f_code.co_filename)
            if where is None:
                return  # a library testing a stub (SQLAlchemy checking `default=`) decides nothing
            if how != "iterated":
                name = reached_as(stub, frame) if isinstance(stub, Stub) else path
                self.uses.append(StubUse(path, how, where, frame.f_lineno, name))
                return
        while frame is not None:
            where = self.repo_path(frame.f_code.co_filename)
            if where is not None:
                self.uses.append(StubUse(path, how, where, frame.f_lineno))
                return
            frame = frame.f_back


_NAME_CHAIN = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def reached_as(stub: "Stub", frame) -> str:
    """The dotted name, rooted at a module, through which the code on `frame`'s line read
    `stub`: what the user passes to --set. A stub's own path names where it was made
    (`pydantic.Field()`), which is not what the model branches on."""
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    for expr in sorted(set(_NAME_CHAIN.findall(line)), key=len, reverse=True):
        head, *rest = expr.split(".")
        scope = frame.f_locals if head in frame.f_locals else frame.f_globals
        if head not in scope or hasattr(builtins, head):
            continue
        value = root = scope[head]
        try:
            for attr in rest:
                value = getattr(value, attr)
        except Exception:  # noqa: BLE001 - properties of arbitrary objects
            continue
        if value is stub or (isinstance(value, Stub) and value._path == stub._path):
            if isinstance(root, types.ModuleType):
                return ".".join([root.__name__, *rest])
            return f"{_home_module(head, root, frame.f_globals.get('__name__', ''))}.{expr}"
    return stub._path


def _home_module(name: str, value: object, current: str) -> str:
    """The module a global was imported from (the shortest module name holding it)."""
    holders = sorted(
        (mod_name for mod_name, mod in list(sys.modules.items()) if mod_name != current and getattr(mod, "__dict__", {}).get(name) is value),
        key=lambda n: (n.count("."), n),
    )
    return holders[0] if holders else current


RECORDER = StubRecorder()
_base_classes: dict[tuple[str, bool], type] = {}
# `--set` values for names that resolve to stubs: "configs.dify_config.DB_TYPE" -> "postgresql"
OVERRIDES: dict[str, object] = {}


class _StubMeta(type):
    """Metaclass of stub base classes used alone: class-level attributes the stubbed base
    would have had (`Model.update_forward_refs()`, `Schema.Config`) are stubs too."""

    def __getattr__(cls, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return Stub(f"{cls.__modeldiff_stub__}.{name}")


def _plain_base(path: str, with_meta: bool = False) -> type:
    """The class a stub becomes when used as a base class (one per stub path). With
    `with_meta`, class attributes are stubs as well; only when no other base brings a
    metaclass of its own (SQLAlchemy's), which would conflict."""
    key = (path, with_meta)
    if key not in _base_classes:

        def __init__(self, *args, **kwargs):  # noqa: N807 - accepts any constructor call
            pass

        def __init_subclass__(cls, **kwargs):  # noqa: N807
            # Chain on: the next base may be SQLAlchemy's DeclarativeBase, which maps the
            # class here. Class keywords meant for the stubbed base are dropped if refused.
            parent = super(base, cls).__init_subclass__
            try:
                parent(**kwargs)
            except TypeError:
                if not kwargs:
                    raise
                parent()

        def __getattr__(self, name):  # noqa: N807
            if name.startswith("_"):  # private protocol lookups (_sa_instance_state) must fail
                raise AttributeError(name)
            return Stub(f"{path}().{name}")

        namespace = {
            "__init__": __init__,
            "__init_subclass__": classmethod(__init_subclass__),
            "__getattr__": __getattr__,
            "__module__": path.rpartition(".")[0] or path,
            "__modeldiff_stub__": path,
        }
        type_base = _column_type_base(path)
        if type_base is not None:
            # `class EncryptedConfiguration(EncryptedType)`: the subclass goes into a Column(),
            # so it must be a real column type; created as TEXT and reported (stub-type).
            namespace.update({"__init__": lambda self, *args, **kwargs: type_base.__init__(self), "impl": _text_type(), "cache_ok": True})
            del namespace["__getattr__"]
            base = _base_classes[key] = type(type_base)(path.rsplit(".", 1)[-1], (type_base,), namespace)
        else:
            base = _base_classes[key] = (_StubMeta if with_meta else type)(path.rsplit(".", 1)[-1], (), namespace)
    return _base_classes[key]


# Column types of type libraries not named `...Type` (sqlalchemy_utils' all are; its
# mixins such as `Timestamp` are not types).
_TYPE_NAMES = {"Geometry", "Geography", "Raster", "Vector", "HALFVEC", "SPARSEVEC", "CIText", "UtcDateTime"}


def _column_type_base(path: str):
    """SQLAlchemy's TypeDecorator, if the stub `path` names a column type (`...Type`, or a
    known type name); None otherwise (or without SQLAlchemy)."""
    name = path.rsplit(".", 1)[-1]
    if not ((name.endswith("Type") and name[:1].isupper()) or name in _TYPE_NAMES):
        return None
    try:
        from sqlalchemy.types import TypeDecorator
    except ImportError:
        return None
    return TypeDecorator


def _text_type():
    from sqlalchemy.types import Text

    return Text


class Stub:
    """A placeholder for any object reached through a stubbed module."""

    __slots__ = ("_path",)

    def __init__(self, path: str) -> None:
        object.__setattr__(self, "_path", path)

    # -- structure: everything leads to more stubs ---------------------------------------
    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # keep inspect/typing/pickle from being fooled
        if f"{self._path}.{name}" in OVERRIDES:
            return OVERRIDES[f"{self._path}.{name}"]
        if name == "value":
            RECORDER.record(self, "value")
            # An enum member's value: its own name, lower-cased (NodeType.LLM -> "llm").
            return self._path.rsplit(".", 1)[-1].lower()
        if name == "name":
            return self._path.rsplit(".", 1)[-1]
        return Stub(f"{self._path}.{name}")

    def __getattribute__(self, name: str):
        # `StubbedBase.__init__(self, ...)` (an explicit parent call) must accept anything,
        # not reach this class's own two-argument `__init__`.
        if name == "__init__":
            return _accept_anything
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value) -> None:
        pass

    def __call__(self, *args, **kwargs):
        if len(args) == 3 and not kwargs and isinstance(args[0], str) and isinstance(args[1], tuple) and isinstance(args[2], dict):
            # Used as a metaclass (`class X(Base, metaclass=stubbed.Meta)`): a real class,
            # built by the bases' own metaclass.
            RECORDER.record(self, "metaclass")
            return type(*args)
        if len(args) == 1 and not kwargs and _decorated(args[0]):
            return args[0]  # a bare decorator: hand back what it decorates
        # A call with other arguments, such as a decorator factory (`@vectorizer(db.Integer)`):
        # what it returns hands back whatever it decorates.
        return Stub(f"{self._path}()")

    def __getitem__(self, key):
        return Stub(f"{self._path}[]")

    def __mro_entries__(self, bases):
        RECORDER.record(self, "base-class")
        alone = all(isinstance(b, Stub) or type(b) in (type, _StubMeta) for b in bases)
        return (_plain_base(self._path, with_meta=alone),)

    def __iter__(self):
        RECORDER.record(self, "iterated")
        return iter(())

    def __len__(self) -> int:
        return 0

    def __contains__(self, item) -> bool:
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def __instancecheck__(self, obj) -> bool:
        return False

    def __subclasscheck__(self, cls) -> bool:
        return False

    def __or__(self, other):  # `Stub | None` in annotations
        return self

    __ror__ = __or__

    def __setitem__(self, key, value) -> None:
        pass

    def __delitem__(self, key) -> None:
        pass

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    # Arithmetic keeps a stub a stub (a value built from it still carries the marker).
    def _derived(self, *_args):
        return Stub(f"{self._path}()")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _derived
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __pow__ = _derived
    __and__ = __rand__ = __xor__ = __rxor__ = __neg__ = __pos__ = __invert__ = _derived

    def __lt__(self, other) -> bool:
        RECORDER.record(self, "compared")
        return False

    __le__ = __gt__ = __ge__ = __lt__

    # -- conversions to concrete values: recorded -----------------------------------------
    def __bool__(self) -> bool:
        RECORDER.record(self, "truth-tested")
        return False

    def __eq__(self, other) -> bool:
        if isinstance(other, Stub):
            return self._path == other._path
        RECORDER.record(self, "compared")
        return False

    def __ne__(self, other) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self._path)

    def __str__(self) -> str:
        RECORDER.record(self, "str")
        return f"{STUB_MARKER}.{self._path}"

    def __repr__(self) -> str:
        return f"<stub {self._path}>"

    def __int__(self) -> int:
        RECORDER.record(self, "int")
        return 0

    __index__ = __int__

    def __float__(self) -> float:
        RECORDER.record(self, "float")
        return 0.0


def _accept_anything(*args, **kwargs) -> None:
    return None


def _decorated(obj) -> bool:
    """Is `obj` what a decorator is applied to: a function, or a class of the repository's
    own (not a library's class handed to a decorator factory, `@vectorizer(db.Integer)`)?"""
    if isinstance(obj, (types.FunctionType, types.MethodType, staticmethod, classmethod, property)):
        return True
    if isinstance(obj, type):
        module = sys.modules.get(getattr(obj, "__module__", ""), None)
        return RECORDER.repo_path(getattr(module, "__file__", None) or "") is not None
    return False


class StubModule(types.ModuleType):
    """A module whose every missing attribute is a stub; also a package, so
    `import stubbed.sub.module` works."""

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if f"{self.__name__}.{name}" in OVERRIDES:
            return OVERRIDES[f"{self.__name__}.{name}"]
        return Stub(f"{self.__name__}.{name}")

    def __mro_entries__(self, bases):  # a stubbed module used as a base class
        return Stub(self.__name__).__mro_entries__(bases)

    def __call__(self, *args, **kwargs):  # ... or as a decorator or callable
        return Stub(self.__name__)(*args, **kwargs)


def make_stub_module(name: str) -> StubModule:
    module = StubModule(name)
    module.__path__ = []  # type: ignore[attr-defined]
    module.__all__ = []  # type: ignore[attr-defined]
    module.__file__ = None
    module.__modeldiff_stub__ = True  # type: ignore[attr-defined]
    return module


def is_stub(obj: object) -> bool:
    return isinstance(obj, (Stub, StubModule)) or getattr(type(obj), "__modeldiff_stub__", None) is not None
