"""Stubs must stand in for anything model code does with an unimportable name."""

from __future__ import annotations

import enum

from sqlalchemy import Column, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedAsDataclass, mapped_column

from modeldiff.load.stubs import RECORDER, STUB_MARKER, Stub, make_stub_module


def test_stub_as_base_class_keeps_declarative_mapping():
    mixin = Stub("flask_login.UserMixin")

    class Base(MappedAsDataclass, DeclarativeBase):
        metadata = MetaData()

    class Account(mixin, Base):  # the stub first in the bases, as Dify writes it
        __tablename__ = "accounts"
        id: Mapped[int] = mapped_column(Integer, primary_key=True, init=False)
        name: Mapped[str] = mapped_column(String(20), default="x")

    assert "accounts" in Base.metadata.tables
    assert [c.name for c in Base.metadata.tables["accounts"].columns] == ["id", "name"]
    assert Account(name="y").name == "y"


def test_stub_base_class_takes_class_keywords():
    class Model(Stub("pydantic.BaseModel"), frozen=True):
        x: int = 1

    assert Model().x == 1


def test_decorators_calls_subscripts_and_annotations():
    deprecated = Stub("deprecated.deprecated")

    @deprecated
    def f():
        return 3

    @deprecated("reason")
    def g():
        return 4

    assert f() == 3 and callable(g)
    assert isinstance(Stub("x.Y")[int], Stub)
    assert isinstance(Stub("x.Y") | None, Stub)
    assert not isinstance(3, Stub("x.Y"))


def test_enum_members_iteration_and_from_import():
    node_type = Stub("core.workflow.NodeType")
    assert node_type.LLM.value == "llm" and node_type.LLM.name == "LLM"
    assert list(node_type) == [] and len(node_type) == 0

    class Color(str, enum.Enum):
        RED = node_type.TRIGGER_WEBHOOK.value

    assert Color.RED.value == "trigger_webhook"
    module = make_stub_module("celery")
    from_imported = module.states.PENDING
    assert isinstance(from_imported, Stub) and repr(from_imported) == "<stub celery.states.PENDING>"


def test_conversions_are_recorded_and_marked():
    before = len(RECORDER.uses)
    flag = Stub("configs.FLAG")
    assert not flag and flag != "on"
    assert STUB_MARKER in str(flag)
    # Not recorded here: this file is not repository code; the recorder only keeps uses
    # whose caller is a repository file.
    assert len(RECORDER.uses) == before


def test_stub_in_sqlalchemy_column_default_is_harmless():
    column = Column("status", String(50), default=Stub("celery.states.PENDING"))
    assert column.default is not None


def test_decorator_factory_given_a_library_class_hands_back_the_function():
    vectorizer = Stub("sqlalchemy_searchable.vectorizer")

    @vectorizer(Integer)  # Redash: @vectorizer(db.Integer); the class is not what it decorates
    def integer_vectorizer(column):
        return column

    assert integer_vectorizer(5) == 5


def test_stub_as_metaclass_builds_a_real_class_with_the_bases_own_metaclass():
    class Base(DeclarativeBase):
        metadata = MetaData()

    class Tagged(metaclass=Stub("six.RegistryMeta")):
        x = 1

    assert isinstance(Tagged, type) and Tagged.x == 1

    class Tag(Base, metaclass=Stub("six.RegistryMeta")):
        __tablename__ = "tags"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)

    assert "tags" in Base.metadata.tables and isinstance(Tag, type)


def test_explicit_call_of_a_stubbed_base_class_init():
    date_field = Stub("wtforms.fields.DateField")

    class DueDate(date_field):
        def __init__(self, label):
            date_field.__init__(self, label, None, "%Y-%m-%d")  # FlaskBB's BirthdayField
            self.label = label

    assert DueDate("due").label == "due"


def test_subclass_of_a_stubbed_column_type_is_a_column_type():
    from sqlalchemy import Table, Text
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    class SecretValue(Stub("sqlalchemy_utils.EncryptedType")):  # Redash's EncryptedConfiguration
        pass

    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("secret", SecretValue(Text, "key")))
    assert "secret TEXT" in str(CreateTable(table).compile(dialect=postgresql.dialect()))
    # A stubbed mixin that is not a type stays a plain base class.
    class Stamped(Stub("sqlalchemy_utils.Timestamp")):
        pass

    from sqlalchemy.types import TypeDecorator

    assert issubclass(SecretValue, TypeDecorator) and not issubclass(Stamped, TypeDecorator)


def test_stub_module_as_base_class_and_decorator():
    module = make_stub_module("legacy.forms")

    class Form(module):
        pass

    @module
    def handler():
        return 1

    assert isinstance(Form, type) and handler() == 1
