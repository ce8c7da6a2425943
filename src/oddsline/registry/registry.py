"""Registry: immutable numbered versions of named models, movable aliases, an audit log, a CI gate.

Embedded default: SQLite in ``$ODDSLINE_HOME`` (default ``./.oddsline``) in WAL mode, every write in
``BEGIN IMMEDIATE`` so concurrent writers queue instead of interleaving; a PostgreSQL URL gives the
same schema on a server. Version numbers are allocated inside the writing transaction (max + 1; a
rare collision between PostgreSQL writers is retried), so 50 concurrent registrations get 1..50 with
no gap or duplicate. The artifact is copied into the content-addressed store *before* the row that
names it is committed: a crash at any point leaves the old state or the new one, never a row without
its file. A gate result names the champion version it was compared with, and ``promote`` accepts a
pass only while the alias still points at that version (``gate_record.py``).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._exceptions import ArtifactError, RegistryBusyError, RegistryError
from ..io import private_file, private_folder
from .gate_record import GateRecord, promotion_refusal
from .names import check_name, parse_reference
from .store import ArtifactStore

__all__ = ["Registry"]

_RETRIES = 20


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _busy_seconds() -> float:
    """How long a writer waits for another's lock on the SQLite registry (ODDSLINE_REGISTRY_BUSY_SECONDS)."""
    raw = os.environ.get("ODDSLINE_REGISTRY_BUSY_SECONDS", "60")
    try:
        seconds = float(raw)
    except ValueError:
        raise RegistryError(f"ODDSLINE_REGISTRY_BUSY_SECONDS must be a number of seconds, got {raw!r}") from None
    if not seconds > 0:
        raise RegistryError(f"ODDSLINE_REGISTRY_BUSY_SECONDS must be positive, got {raw!r}")
    return seconds


def _engine(url: str) -> Any:
    from sqlalchemy import create_engine, event

    if url.startswith("sqlite"):
        busy = _busy_seconds()
        engine = create_engine(url, connect_args={"timeout": busy})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # SQLAlchemy issues BEGIN itself (below)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
            cursor.close()

        @event.listens_for(engine, "handle_error")
        def _locked(context: Any) -> None:
            # SQLite gave up waiting for another writer's lock: a retryable condition, said so, rather
            # than an OperationalError the caller would take for a bug.
            if "database is locked" in str(context.original_exception):
                raise RegistryBusyError(
                    f"the registry database {url.removeprefix('sqlite:///')} stayed locked by another writer for "
                    f"{busy:g} s (ODDSLINE_REGISTRY_BUSY_SECONDS); nothing was changed: retry"
                ) from context.original_exception

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


class Registry:
    def __init__(
        self,
        url: str | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        require_signatures: bool = False,
        trusted_keys: Iterable[str | os.PathLike[str]] = (),
        actor: str | None = None,
    ) -> None:
        from .schema import metadata

        self.home = private_folder(Path(home or os.environ.get("ODDSLINE_HOME") or ".oddsline").resolve())
        default_db = self.home / "registry.db"
        self.url = url or os.environ.get("ODDSLINE_REGISTRY_URL") or f"sqlite:///{default_db}"
        if self.url == f"sqlite:///{default_db}":
            private_file(default_db)  # SQLite creates it (and its -wal, -shm) with the umask's mode otherwise
        self.engine = _engine(self.url)
        metadata.create_all(self.engine)
        self.store = ArtifactStore(self.home / "store")
        self.require_signatures = require_signatures
        self.trusted_keys = list(trusted_keys)
        if require_signatures and not self.trusted_keys:
            raise RegistryError("require_signatures needs at least one trusted public key (--trust-key FILE)")
        self.actor = actor or os.environ.get("ODDSLINE_ACTOR") or _user()

    def close(self) -> None:
        """Release the database connections (the registry can be used again; it reconnects)."""
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------------

    def register(self, name: str, model_file: str | os.PathLike[str], *, reason: str = "") -> int:
        """Store ``model_file`` as the next version of ``name``; returns the version number."""
        from sqlalchemy import func, insert, select
        from sqlalchemy.exc import IntegrityError as DuplicateKey
        from sqlalchemy.exc import OperationalError

        from .schema import versions

        check_name(name)
        source = _regular_file(model_file)
        model = self._verified(source)
        sha = self.store.put(source)
        evaluation = model.info.get("evaluation", {})
        metrics = {k: v for k, v in evaluation.items() if isinstance(v, (int, float))}
        lineage = {
            "data": model.info.get("data_fingerprint"),
            "params": model.params,
            "oddsline_version": model.info.get("oddsline_version"),
            "signed_by": model.info.get("signed_by"),
            "sha256": sha,
        }
        for _attempt in range(_RETRIES):
            try:
                with self.engine.begin() as conn:
                    latest = conn.execute(select(func.max(versions.c.version)).where(versions.c.name == name)).scalar()
                    version = int(latest or 0) + 1
                    conn.execute(
                        insert(versions).values(
                            name=name,
                            version=version,
                            sha256=sha,
                            created_at=_now(),
                            created_by=self.actor,
                            status="active",
                            gate_passed=False,
                            metrics=metrics,
                            lineage=lineage,
                        )
                    )
                    self._audit(conn, "register", name, version, {"sha256": sha, "file": source.name}, reason)
                return version
            except (DuplicateKey, OperationalError):
                continue  # another writer took this number (PostgreSQL) or held the lock too long
        raise RegistryError(f"could not allocate a version of {name!r} after {_RETRIES} attempts; try again")

    def set_alias(self, name: str, alias: str, version: int, *, reason: str = "") -> None:
        """Point ``name@alias`` at ``version`` (atomically; the previous target is audited)."""
        from sqlalchemy import select

        from .schema import aliases

        check_name(alias, "alias")
        with self.engine.begin() as conn:
            row = self._version_row(conn, name, version)
            if row.status != "active":
                raise RegistryError(f"{name} version {version} is archived; an alias cannot point at it")
            previous = conn.execute(
                select(aliases.c.version).where(aliases.c.name == name, aliases.c.alias == alias)
            ).scalar()
            self._upsert_alias(conn, name, alias, version, previous is not None)
            self._audit(conn, "set_alias", name, version, {"alias": alias, "previous": previous}, reason)

    def rollback(self, name: str, alias: str = "champion", *, reason: str = "") -> int:
        """Move ``alias`` back to the version it pointed at before its last move; returns that version."""
        from sqlalchemy import select

        from .schema import aliases, audit

        with self.engine.begin() as conn:
            current = conn.execute(
                select(aliases.c.version).where(aliases.c.name == name, aliases.c.alias == alias)
            ).scalar()
            if current is None:
                raise RegistryError(f"{name}@{alias} is not set; nothing to roll back")
            moves = conn.execute(
                select(audit.c.detail, audit.c.version)
                .where(audit.c.name == name, audit.c.action.in_(["set_alias", "rollback"]))
                .order_by(audit.c.id.desc())
            ).all()
            previous = next((m.detail.get("previous") for m in moves if m.detail.get("alias") == alias), None)
            if previous is None:
                raise RegistryError(f"{name}@{alias} has no earlier version to roll back to")
            self._upsert_alias(conn, name, alias, int(previous), True)
            self._audit(conn, "rollback", name, int(previous), {"alias": alias, "previous": current}, reason)
        return int(previous)

    def archive(self, name: str, version: int, *, reason: str = "") -> None:
        from sqlalchemy import select, update

        from .schema import aliases, versions

        with self.engine.begin() as conn:
            self._version_row(conn, name, version)
            pointing = (
                conn.execute(select(aliases.c.alias).where(aliases.c.name == name, aliases.c.version == version))
                .scalars()
                .all()
            )
            if pointing:
                raise RegistryError(f"{name} version {version} is {', '.join(pointing)}; move those aliases first")
            conn.execute(
                update(versions).where(versions.c.name == name, versions.c.version == version).values(status="archived")
            )
            self._audit(conn, "archive", name, version, {}, reason)

    def record_gate(
        self,
        name: str,
        version: int,
        passed: bool,
        report: dict[str, Any],
        *,
        champion_version: int | None,
        champion: str | None = None,
    ) -> None:
        """Record a gate result of ``version`` against ``champion_version`` (None: no registered champion;
        ``champion`` then says what it was compared with, e.g. a file). A pass allows ``promote`` only
        while the alias still points at ``champion_version``."""
        from sqlalchemy import update

        from .schema import versions

        with self.engine.begin() as conn:
            self._version_row(conn, name, version)
            if champion_version is not None:
                self._version_row(conn, name, champion_version)
            conn.execute(
                update(versions)
                .where(versions.c.name == name, versions.c.version == version)
                .values(gate_passed=passed)
            )
            detail = {"passed": passed, "champion_version": champion_version, "champion": champion, "report": report}
            self._audit(conn, "gate", name, version, detail, "")

    def gate(self, name: str, version: int) -> GateRecord | None:
        """The latest gate result of ``version`` (None: never validated)."""
        with self.engine.connect() as conn:
            self._version_row(conn, name, version)
            return self._gates(conn, name).get(int(version))

    def promote(
        self, name: str, version: int, *, alias: str = "champion", force: bool = False, reason: str = ""
    ) -> None:
        """Point ``alias`` (champion) at ``version``; refused unless its latest gate passed against the
        version the alias points at now, or ``force`` (audited with the refusal it overrode)."""
        from sqlalchemy import select

        from .schema import aliases

        check_name(alias, "alias")
        with self.engine.begin() as conn:
            row = self._version_row(conn, name, version)
            if row.status != "active":
                raise RegistryError(f"{name} version {version} is archived; an alias cannot point at it")
            # FOR UPDATE (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers): the alias
            # cannot move between this check and the move below.
            current = conn.execute(
                select(aliases.c.version).where(aliases.c.name == name, aliases.c.alias == alias).with_for_update()
            ).scalar()
            refusal = promotion_refusal(name, version, alias, self._gates(conn, name).get(int(version)), current)
            if refusal is not None and not force:
                raise RegistryError(refusal)
            self._upsert_alias(conn, name, alias, version, current is not None)
            detail = {"alias": alias, "previous": current, "forced": refusal is not None, "refusal": refusal}
            self._audit(conn, "set_alias", name, version, detail, ("FORCED: " if refusal else "") + reason)

    # -- reading -------------------------------------------------------------------------------------

    def resolve(self, reference: str) -> tuple[str, int]:
        """(name, version) of ``name``, ``name@3`` or ``name@alias``."""
        from sqlalchemy import func, select

        from .schema import aliases, versions

        name, selector = parse_reference(reference)
        with self.engine.connect() as conn:
            if selector is None:
                version = conn.execute(
                    select(func.max(versions.c.version)).where(versions.c.name == name, versions.c.status == "active")
                ).scalar()
                if version is None:
                    raise RegistryError(f"no active version of {name!r} is registered")
                return name, int(version)
            if isinstance(selector, int):
                self._version_row(conn, name, selector)
                return name, selector
            version = conn.execute(
                select(aliases.c.version).where(aliases.c.name == name, aliases.c.alias == selector)
            ).scalar()
        if version is None:
            raise RegistryError(
                f"{name}@{selector} is not set; set it with: oddsline registry alias {name} {selector} VERSION"
            )
        return name, int(version)

    def path(self, reference: str) -> Path:
        name, version = self.resolve(reference)
        with self.engine.connect() as conn:
            row = self._version_row(conn, name, version)
        return self.store.get(row.sha256)

    def load(self, reference: str) -> Any:
        return self._verified(self.path(reference))

    def versions(self, name: str) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from .schema import aliases, versions

        check_name(name)
        with self.engine.connect() as conn:
            rows = conn.execute(select(versions).where(versions.c.name == name).order_by(versions.c.version)).all()
            pointing = conn.execute(select(aliases).where(aliases.c.name == name)).all()
            gates = self._gates(conn, name)
        by_version: dict[int, list[str]] = {}
        for a in pointing:
            by_version.setdefault(a.version, []).append(a.alias)
        return [_row_dict(r, sorted(by_version.get(r.version, [])), gates.get(r.version)) for r in rows]

    def show(self, reference: str) -> dict[str, Any]:
        name, version = self.resolve(reference)
        return next(v for v in self.versions(name) if v["version"] == version)

    def lineage(self, reference: str) -> dict[str, Any]:
        return dict(self.show(reference)["lineage"])

    def diff(self, name: str, a: int, b: int) -> dict[str, dict[str, float | None]]:
        """Metrics of two versions side by side with b - a."""
        first, second = self.show(f"{name}@{a}")["metrics"], self.show(f"{name}@{b}")["metrics"]
        keys = sorted(set(first) | set(second))
        return {
            k: {
                "a": first.get(k),
                "b": second.get(k),
                "delta": (second[k] - first[k]) if k in first and k in second else None,
            }
            for k in keys
        }

    def audit_log(self, name: str | None = None) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from .schema import audit

        query = select(audit).order_by(audit.c.id)
        if name is not None:
            query = query.where(audit.c.name == name)
        with self.engine.connect() as conn:
            return [
                {
                    "at": r.at.isoformat() if r.at else None,
                    "actor": r.actor,
                    "action": r.action,
                    "name": r.name,
                    "version": r.version,
                    "detail": r.detail,
                    "reason": r.reason,
                }
                for r in conn.execute(query).all()
            ]

    # -- internals -----------------------------------------------------------------------------------

    def _verified(self, path: Path) -> Any:
        from ..artifact import load

        try:
            return load(path, trusted_keys=self.trusted_keys if self.require_signatures else None)
        except ArtifactError:
            raise

    def _version_row(self, conn: Any, name: str, version: int) -> Any:
        from sqlalchemy import select

        from .schema import versions

        check_name(name)
        row = conn.execute(select(versions).where(versions.c.name == name, versions.c.version == int(version))).first()
        if row is None:
            raise RegistryError(f"{name} has no version {version}; see: oddsline registry list {name}")
        return row

    def _gates(self, conn: Any, name: str) -> dict[int, GateRecord]:
        """The latest gate record of each version of ``name``."""
        from sqlalchemy import select

        from .schema import audit

        entries = conn.execute(
            select(audit.c.version, audit.c.detail)
            .where(audit.c.name == name, audit.c.action == "gate")
            .order_by(audit.c.id)
        ).all()
        return {int(e.version): GateRecord.from_detail(e.detail) for e in entries}

    def _upsert_alias(self, conn: Any, name: str, alias: str, version: int, exists: bool) -> None:
        from sqlalchemy import insert, update

        from .schema import aliases

        if exists:
            conn.execute(
                update(aliases)
                .where(aliases.c.name == name, aliases.c.alias == alias)
                .values(version=version, updated_at=_now())
            )
        else:
            conn.execute(insert(aliases).values(name=name, alias=alias, version=version, updated_at=_now()))

    def _audit(
        self, conn: Any, action: str, name: str, version: int | None, detail: dict[str, Any], reason: str
    ) -> None:
        from sqlalchemy import insert

        from .schema import audit

        conn.execute(
            insert(audit).values(
                at=_now(), actor=self.actor, action=action, name=name, version=version, detail=detail, reason=reason
            )
        )


def _row_dict(row: Any, aliases: list[str], gate: GateRecord | None) -> dict[str, Any]:
    return {
        "name": row.name,
        "version": row.version,
        "sha256": row.sha256,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "created_by": row.created_by,
        "status": row.status,
        "gate_passed": bool(row.gate_passed),
        "gate": None if gate is None else gate.to_dict(),
        "aliases": aliases,
        "metrics": row.metrics,
        "lineage": row.lineage,
    }


def _regular_file(path: str | os.PathLike[str]) -> Path:
    text = os.fspath(path)
    if "\x00" in text:
        raise RegistryError("a model file path must not contain NUL bytes")
    if text.startswith("file:"):
        raise RegistryError(f"give a local path, not a URI: {text!r}")
    resolved = Path(text).resolve()
    if not resolved.is_file():
        raise RegistryError(f"{text}: no such model file")
    return resolved


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"
