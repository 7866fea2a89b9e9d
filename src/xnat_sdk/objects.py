"""Live-object behaviour that every generated model inherits.

The generated classes (``ProjectData``, ``MrSessionData``, ...) are both the data and the live
handle, as in xnatpy: a model parsed from the server is bound to the session and the URI it came
from, and navigates from there (``project.subjects``). This module imports no I/O library: the
session is reached through the ``SessionLike`` protocol, so the emulator can use the generated
models as plain data.

An object built from a listing row holds only the row's fields; the first access to any other
field fetches the whole object once (``fetch()``), so a listing costs one request however many
objects it yields.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    ClassVar,
    Protocol,
    SupportsIndex,
    TypeVar,
    cast,
    runtime_checkable,
)

from pydantic import BaseModel, PrivateAttr, ValidationError

from xnat_sdk.errors import XNATError, XNATInvalidLabelError, XNATValueError

if TYPE_CHECKING:
    from xnat_sdk.config import SessionConfig
    from xnat_sdk.listing import Listing, ListingSpec
    from xnat_sdk.session import XNATSession

T = TypeVar("T")
U = TypeVar("U")

#: Characters XNAT accepts in IDs and labels (its ``XftStringUtils``/label validation).
LABEL_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class SessionLike(Protocol):
    """What a live object needs from the session that loaded it."""

    def listing_for(self, owner: XnatObject, name: str, item_type: type[T]) -> Listing[T]:
        """The listing called ``name`` ("subjects", "scans", "files", ...) below ``owner``."""
        ...

    def load_item(self, uri: str) -> XnatObject:
        """The object at ``uri``, fetched in full, parsed by xsi:type and bound to the session."""
        ...

    def load_custom_fields(self, uri: str) -> dict[str, str]:
        """The custom variables (``fields/field``) of the object at ``uri``."""
        ...

    def write_fields(self, uri: str, query: Mapping[str, str]) -> None:
        """PUT ``query`` (xsiType and xpath=value pairs) on the object at ``uri``."""
        ...

    def delete_object(self, uri: str, *, remove_files: bool) -> None:
        """DELETE the object at ``uri``."""
        ...

    def download_to(self, uri: str, target: Path, expected_md5: str | None = None) -> Path:
        """Download ``uri`` to the file ``target`` (atomically, checked against
        ``expected_md5`` when given) and return it."""
        ...

    def read_bytes(self, uri: str) -> bytes:
        """The body of ``uri``."""
        ...

    def external_url(self, uri: str, query: Mapping[str, str] | None = None) -> str:
        """The absolute URL of ``uri`` on the server."""
        ...

    def forget(self, uri: str) -> None:
        """Drop cached listings at and below ``uri`` (after a write)."""
        ...


@runtime_checkable
class ReferableSession(Protocol):
    """A session whose objects can pickle as references that another process reconnects by."""

    def reference_config(self) -> SessionConfig | None:
        """The config to reconnect by, or ``None`` when objects pickle as plain data."""
        ...

    def config(self, include_secret: bool = False) -> SessionConfig:
        """A description of the session to reconnect from (no secret unless asked)."""
        ...


def reference_config_of(session: object) -> SessionConfig | None:
    """The config that objects of ``session`` pickle with (``None``: none, pickle plainly)."""
    kind = type(session)
    referable = _REFERABLE.get(kind)
    if referable is None:  # a runtime protocol check costs ~50 us: once per session class
        referable = _REFERABLE[kind] = isinstance(session, ReferableSession)
    return cast("ReferableSession", session).reference_config() if referable else None


#: Per session class: whether it is a ``ReferableSession``.
_REFERABLE: dict[type, bool] = {}


def shipping_config(obj: XnatObject | FileData) -> SessionConfig | None:
    """The config a copy of ``obj`` in another process reconnects by: its session's own
    ``SessionConfig``, else the session's secret-free description; ``None`` when ``obj`` is
    not bound to a session (a plain model)."""
    if isinstance(obj, FileData):
        session: object = obj._session  # pyright: ignore[reportPrivateUsage]  # same module
    else:
        session = obj._private_state().get("_session")  # pyright: ignore[reportPrivateUsage]  # same module
    if not isinstance(session, ReferableSession):
        return None
    return session.reference_config() or session.config()


def as_reference(
    obj: XnatObject | FileData, config: SessionConfig
) -> tuple[Callable[..., object], tuple[object, ...]]:
    """The pickle reduction of ``obj`` as a reference: in the process that unpickles it, it
    becomes the same object (class, loaded fields, URI) bound to ``config.session()``."""
    if isinstance(obj, FileData):
        described = (obj.path, obj.size, obj.digest, obj.collection, obj.tags)
        return (_live_file, (config, obj.uri, *described, obj.format, obj.content))
    return (_live_object, (config, type(obj).xsi_type, obj.__getstate__()))


class DetachedObjectError(XNATError, RuntimeError):
    """A navigation or write was attempted on a model that is not bound to a session."""


class FieldValueError(XNATValueError):
    """A value written to a live object does not fit the field's type (nothing was sent)."""


def check_label(label: str) -> str:
    """``label`` unchanged if XNAT accepts it as an ID or label; else an
    ``XNATInvalidLabelError`` naming the first offending character."""
    if not label:
        raise XNATValueError("a label must not be empty")
    for character in label:
        if character not in LABEL_CHARACTERS:
            raise XNATInvalidLabelError(label, character)
    return label


class XnatObject(BaseModel):
    """Base of every generated model: pydantic data plus an optional binding to a session."""

    _session: SessionLike | None = PrivateAttr(default=None)
    _uri: str | None = PrivateAttr(default=None)
    _complete: bool = PrivateAttr(default=True)

    def _listing(self, name: str, item_type: type[T]) -> Listing[T]:
        return self._bound_session(name).listing_for(self, name, item_type)

    def _bound_session(self, what: str) -> SessionLike:
        session = self._session
        if session is None:
            raise DetachedObjectError(
                f"{type(self).__name__}.{what} needs a session: this object was not loaded "
                "from a server"
            )
        return session

    def _bind(self, session: SessionLike, uri: str, *, complete: bool) -> None:
        """Attach this model to ``session`` as the object at ``uri``."""
        self._session = session
        self._uri = uri
        self._complete = complete

    def _private_state(self) -> dict[str, object]:
        """The private attributes, read without recursing into ``__getattr__``."""
        try:
            private: dict[str, object] | None = object.__getattribute__(
                self, "__pydantic_private__"
            )
        except AttributeError:
            return {}
        return private or {}

    def _field_store(self) -> dict[str, object]:
        """The instance ``__dict__`` where pydantic keeps field values."""
        store: dict[str, object] = object.__getattribute__(self, "__dict__")
        return store

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> object:
            # Only reached for a field missing from __dict__: a row-built object not yet fetched.
            if not name.startswith("_") and name in type(self).model_fields:
                private = self._private_state()
                if private.get("_session") is not None and not private.get("_complete", True):
                    self.fetch()
                    return self._field_store()[name]
            return super().__getattr__(name)

        def __setattr__(self, name: str, value: object) -> None:
            bound = self._private_state().get("_session") is not None
            if bound and name in type(self).model_fields:
                self.set(name, value)
            else:
                super().__setattr__(name, value)

    def __getstate__(self) -> dict[object, object]:
        # A pickled model is plain data: the session (a live login) is never part of it.
        state: dict[object, object] = dict(super().__getstate__())
        private: dict[str, object] = dict(self._private_state())
        if private:
            private["_session"] = None
            state["__pydantic_private__"] = private
        return state

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[object, ...]:
        # Bound to a session opened from a SessionConfig: travel as a reference (config,
        # xsi:type, loaded fields and URI) that unpickles live on the receiver's shared session.
        config = reference_config_of(self._private_state().get("_session"))
        if config is None:
            return super().__reduce_ex__(protocol)
        return as_reference(self, config)

    @property
    def uri(self) -> str:
        """The REST path of this object on its server (``/data/experiments/XNAT_E00001``)."""
        if self._uri is None:
            raise DetachedObjectError(f"{type(self).__name__} has no URI: it is not on a server")
        return self._uri

    @property
    def fulluri(self) -> str:
        """The REST path (kept for xnatpy compatibility: XNAT paths here are already full)."""
        return self.uri

    def external_uri(self, query: Mapping[str, str] | None = None) -> str:
        """The absolute URL of this object, for a browser or another tool."""
        return self._bound_session("external_uri").external_url(self.uri, query)

    def fetch(self) -> None:
        """Load every field of this object from the server, replacing what is held."""
        fresh = self._bound_session("fetch").load_item(self.uri)
        store, fresh_store = self._field_store(), fresh._field_store()
        for name in type(self).model_fields:
            if name in fresh_store:
                store[name] = fresh_store[name]
            else:
                store.pop(name, None)
        if fresh.__pydantic_extra__ is not None:
            object.__setattr__(self, "__pydantic_extra__", dict(fresh.__pydantic_extra__))
        object.__setattr__(self, "__pydantic_fields_set__", set(fresh.model_fields_set))
        self._complete = True

    def clearcache(self) -> None:
        """Forget the held data and cached listings below; the next access fetches again."""
        session = self._bound_session("clearcache")
        session.forget(self.uri)
        self.fetch()

    @property
    def fulldata(self) -> dict[str, object]:
        """Every field of the object (fetched when needed), by XSD name."""
        if not self._complete:
            self.fetch()
        return self.model_dump(by_alias=True, exclude_none=True)

    def set(self, name: str, value: object) -> None:
        """Write one field to the server (validated first, as the field's xpath)."""
        self.mset({name: value})

    def mset(self, values: Mapping[str, object] | None = None, **kwargs: object) -> None:
        """Write several fields in one request; an invalid value sends nothing."""
        changes = {**(values or {}), **kwargs}
        session = self._bound_session("mset")
        if not self._complete:
            self.fetch()
        candidate = self.model_copy()
        cls = type(self)
        for name, value in changes.items():
            field_name = field_named(cls, name)
            try:
                cls.__pydantic_validator__.validate_assignment(candidate, field_name, value)
            except ValidationError as exc:
                raise _invalid(cls, field_name, value, exc) from None
        xpaths = candidate.to_xpath_fields()
        query = {"xsiType": cls.xsi_type}
        for name in changes:
            xpath = cls.xpath_of(field_named(cls, name))
            query[xpath] = xpaths.get(xpath, "")
        session.write_fields(self.uri, query)
        for name in changes:
            field_name = field_named(cls, name)
            self._field_store()[field_name] = candidate._field_store()[field_name]
            self.__pydantic_fields_set__.add(field_name)

    def delete(self, remove_files: bool = True) -> None:
        """Remove this object (and, by default, its files) from the server."""
        self._bound_session("delete").delete_object(self.uri, remove_files=remove_files)

    @property
    def custom_fields(self) -> CustomVariables:
        """The object's custom variables (XNAT ``fields/field``) as a mutable mapping."""
        return CustomVariables(self._bound_session("custom_fields"), self.uri, type(self).xsi_type)

    # The generated XnatModel overrides these three with the schema's knowledge.
    xsi_type: ClassVar[str] = ""

    def to_xpath_fields(self) -> Mapping[str, str]:
        """The model in REST query-string form (xpath -> value)."""
        raise NotImplementedError(f"{type(self).__name__} is not a generated XNAT model")

    @classmethod
    def xpath_of(cls, field_name: str) -> str:
        """The xpath of ``field_name`` (``xnat:mrSessionData/date``)."""
        raise NotImplementedError(f"{cls.__name__} is not a generated XNAT model")


def session_of(obj: XnatObject) -> SessionLike:
    """The session ``obj`` is bound to (a function, so models gain no public attribute); an
    object unpickled from a reference is bound to its live session here, logging in if needed."""
    session = obj._bound_session("session_of")  # pyright: ignore[reportPrivateUsage]  # same module
    if isinstance(session, DeferredSession):
        session = session.live()
        complete = obj._complete  # pyright: ignore[reportPrivateUsage]  # same module
        bind(obj, session, obj.uri, complete=complete)
    return session


def bind(obj: XnatObject, session: SessionLike, uri: str, *, complete: bool) -> None:
    """Attach ``obj`` to ``session`` as the object at ``uri`` (``complete``: all fields held)."""
    obj._bind(session, uri, complete=complete)  # pyright: ignore[reportPrivateUsage]  # same module


def partial_model(cls: type[XnatObject], values: Mapping[str, object]) -> XnatObject:
    """An instance of ``cls`` holding only ``values`` (keyed by field or XSD name), each
    validated on its own; other fields are absent (fetched on first access once bound).
    A bad value raises ``FieldValueError`` naming the field. (Listing rows take the faster
    ``xnat_sdk.row_objects`` path.)
    """
    # Placeholders for every field: model_construct then computes no defaults (it inspects
    # each default factory); all but the loaded are dropped below.
    obj = cls.model_construct(**dict.fromkeys(cls.model_fields))
    loaded: set[str] = set()
    for key, value in values.items():
        name = field_named(cls, key)
        try:
            cls.__pydantic_validator__.validate_assignment(obj, name, value)
        except ValidationError as exc:
            raise _invalid(cls, name, value, exc) from None
        loaded.add(name)
    # Read the store only now: pydantic replaces __dict__ on each validated assignment.
    store = obj._field_store()  # pyright: ignore[reportPrivateUsage]  # same module
    for name in cls.model_fields:
        if name not in loaded:
            store.pop(name, None)
    object.__setattr__(obj, "__pydantic_fields_set__", loaded)
    obj._complete = False  # pyright: ignore[reportPrivateUsage]  # same module
    return obj


def _invalid(
    cls: type[BaseModel], name: str, value: object, exc: ValidationError
) -> FieldValueError:
    errors = exc.errors()
    reason = errors[0]["msg"] if errors else str(exc)
    return FieldValueError(f"{cls.__name__}.{name} cannot be {value!r}: {reason}")


def xsd_name(cls: type[BaseModel], field_name: str) -> str:
    """The XSD name of a field (its serialization alias; the field name when it has none)."""
    info = cls.model_fields[field_name]
    return info.serialization_alias or info.alias or field_name


def field_named(cls: type[BaseModel], name: str) -> str:
    """The Python field name for ``name`` given as field name or XSD name."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = {xsd_name(cls, field): field for field in cls.model_fields}
        names.update((field, field) for field in cls.model_fields)
        _FIELD_NAMES[cls] = names
    try:
        return names[name]
    except KeyError:
        raise FieldValueError(f"{cls.__name__} has no field {name!r}") from None


#: Per model class: field name and XSD name -> field name (classes never change at run time).
_FIELD_NAMES: dict[type[BaseModel], dict[str, str]] = {}


class CustomVariables(MutableMapping[str, str]):
    """Custom variables of one object; reads are fetched once, writes go straight through."""

    def __init__(self, session: SessionLike, uri: str, xsi_type: str) -> None:
        self._session = session
        self._uri = uri
        self._xsi_type = xsi_type
        self._values: dict[str, str] | None = None

    def _data(self) -> dict[str, str]:
        if self._values is None:
            self._values = self._session.load_custom_fields(self._uri)
        return self._values

    def __getitem__(self, key: str) -> str:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __setitem__(self, key: str, value: str) -> None:
        xsi_type = self._xsi_type
        self._session.write_fields(
            self._uri,
            {"xsiType": xsi_type, f"{xsi_type}/fields/field[name={key}]/field": str(value)},
        )
        self._data()[key] = str(value)

    def __delitem__(self, key: str) -> None:
        if key not in self._data():
            raise KeyError(key)
        self[key] = ""
        del self._data()[key]


class FileData:
    """A file inside a resource (not an XSD type: files live in catalogs)."""

    def __init__(
        self,
        session: SessionLike,
        uri: str,
        *,
        path: str,
        size: int | None = None,
        digest: str | None = None,
        collection: str | None = None,
        tags: str | None = None,
        format: str | None = None,
        content: str | None = None,
    ) -> None:
        self._session = session
        self.uri = uri
        self.path = path
        self.size = size
        self.digest = digest
        self.collection = collection
        self.tags = tags
        self.format = format
        self.content = content

    @property
    def name(self) -> str:
        """The file's name without its folder."""
        return self.path.rsplit("/", 1)[-1]

    def __repr__(self) -> str:
        return f"<FileData {self.path} ({self.size} bytes)>"

    def __reduce__(self) -> tuple[object, ...]:
        config = reference_config_of(self._session)
        if config is None:
            raise TypeError(
                f"{self!r} cannot be pickled: its session was not opened from a SessionConfig "
                "(use xnat_sdk.connect(config=session.config(...)))"
            )
        return as_reference(self, config)

    def download(self, target: str | os.PathLike[str], *, verify: bool = True) -> Path:
        """Download to ``target`` (a file path, or a directory to put the file in), verified
        against the catalog's md5 digest when the server lists one; ``verify=False`` skips
        the md5 (faster for big files; the length is still checked)."""
        destination = Path(target)
        if destination.is_dir():
            destination = destination / self.name
        digest = self.digest if verify else None
        return self._session.download_to(self.uri, destination, expected_md5=digest)

    def read(self) -> bytes:
        """The whole content of the file."""
        return self._session.read_bytes(self.uri)

    def delete(self) -> None:
        """Remove the file from its resource."""
        self._session.delete_object(self.uri, remove_files=True)


class DeferredSession:
    """Stands for ``config.session()`` in what was unpickled from a reference, until it is used:
    unpickling (in a Dask scheduler, or a client receiving results) never logs in, and a process
    that only passes objects on needs no credentials. One per config per process."""

    __slots__ = ("_config",)

    def __init__(self, config: SessionConfig) -> None:
        self._config = config

    def __repr__(self) -> str:
        return f"<DeferredSession {self._config.user or 'anonymous'}@{self._config.server}>"

    @classmethod
    def for_config(cls, config: SessionConfig) -> DeferredSession:
        """The stand-in for ``config`` in this process (made once)."""
        deferred = _DEFERRED.get(config)
        if deferred is None:
            deferred = _DEFERRED.setdefault(config, cls(config))
        return deferred

    def live(self) -> XNATSession:
        """This process's shared session for the config (logged in on first use)."""
        return self._config.session()

    # ReferableSession: what is bound to it pickles as a reference again, without logging in.
    def reference_config(self) -> SessionConfig:
        return self._config

    def config(self, include_secret: bool = False) -> SessionConfig:
        return self._config if include_secret else self._config.without_secret()

    # SessionLike and ListingSource, by the live session.
    @property
    def caching(self) -> bool:
        return self.live().caching

    def listing_for(self, owner: XnatObject, name: str, item_type: type[T]) -> Listing[T]:
        return self.live().listing_for(owner, name, item_type)

    def load_item(self, uri: str) -> XnatObject:
        return self.live().load_item(uri)

    def load_custom_fields(self, uri: str) -> dict[str, str]:
        return self.live().load_custom_fields(uri)

    def write_fields(self, uri: str, query: Mapping[str, str]) -> None:
        self.live().write_fields(uri, query)

    def delete_object(self, uri: str, *, remove_files: bool) -> None:
        self.live().delete_object(uri, remove_files=remove_files)

    def download_to(self, uri: str, target: Path, expected_md5: str | None = None) -> Path:
        return self.live().download_to(uri, target, expected_md5)

    def read_bytes(self, uri: str) -> bytes:
        return self.live().read_bytes(uri)

    def external_url(self, uri: str, query: Mapping[str, str] | None = None) -> str:
        return self.live().external_url(uri, query)

    def forget(self, uri: str) -> None:
        self.live().forget(uri)

    def listing_rows(self, uri: str, query: Mapping[str, str]) -> list[dict[str, str]]:
        return self.live().listing_rows(uri, query)

    def item_from_row(self, row: dict[str, str], key: str, listing: Listing[T]) -> T:
        return self.live().item_from_row(row, key, listing)

    def create_item(
        self,
        listing_uri: str,
        spec: ListingSpec,
        key: str,
        item_type: type[U],
        fields: Mapping[str, object],
    ) -> U:
        return self.live().create_item(listing_uri, spec, key, item_type, fields)

    def add_item(self, listing_uri: str, key: str, obj: U) -> U:
        return self.live().add_item(listing_uri, key, obj)


#: The stand-ins by config (a config is small and hashable; there are few per process).
_DEFERRED: dict[SessionConfig, DeferredSession] = {}


def _live_object(config: SessionConfig, xsi_type: str, state: dict[object, object]) -> XnatObject:
    """Unpickle a reference: the object of class ``xsi_type`` with ``state``, bound to this
    process's shared session for ``config`` (logged in when first used)."""
    from xnat_sdk._generated.registry import XSI_TYPES

    cls = XSI_TYPES.get(xsi_type)
    if cls is None:
        raise XNATValueError(f"cannot unpickle an object of unknown xsi:type {xsi_type!r}")
    obj = cls.__new__(cls)
    obj.__setstate__(state)
    uri = obj._uri  # pyright: ignore[reportPrivateUsage]  # same module
    if uri is None:
        raise XNATValueError(f"the pickled {cls.__name__} reference has no URI")
    complete = obj._complete  # pyright: ignore[reportPrivateUsage]  # same module
    bind(obj, DeferredSession.for_config(config), uri, complete=complete)
    return obj


def _live_file(
    config: SessionConfig,
    uri: str,
    path: str,
    size: int | None,
    digest: str | None,
    collection: str | None,
    tags: str | None,
    format: str | None,
    content: str | None,
) -> FileData:
    """Unpickle a file reference onto this process's shared session for ``config``."""
    return FileData(
        DeferredSession.for_config(config),
        uri,
        path=path,
        size=size,
        digest=digest,
        collection=collection,
        tags=tags,
        format=format,
        content=content,
    )
