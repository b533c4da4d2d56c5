"""The web console's accounts: users, their logins (sessions) and the audit trail.

Passwords arrive here already hashed (``mailintake.web.passwords``); a
session is kept by the sha256 of its cookie's token, so a copy of the
database logs nobody in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from mailintake.store.database import Engine, session
from mailintake.store.models import Audit, ConsoleSession, ConsoleUser

ROLES = ("clerk", "admin", "viewer")


class UserExists(Exception):
    """A user of that name is already there."""


class NoSuchUser(Exception):
    """No user of that name."""


def add_user(engine: Engine, name: str, role: str, password_hash: str) -> ConsoleUser:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    user = ConsoleUser(name=name, role=role, password_hash=password_hash)
    with session(engine) as db:
        db.add(user)
        try:
            db.commit()
        except IntegrityError as exc:
            raise UserExists(name) from exc
    return user


def users(engine: Engine) -> list[ConsoleUser]:
    with session(engine) as db:
        return list(db.exec(select(ConsoleUser).order_by(col(ConsoleUser.name))).all())


def user(engine: Engine, name: str) -> ConsoleUser | None:
    with session(engine) as db:
        return db.exec(select(ConsoleUser).where(ConsoleUser.name == name)).first()


def _change(engine: Engine, name: str, **values: object) -> ConsoleUser:
    with session(engine) as db:
        found = db.exec(select(ConsoleUser).where(ConsoleUser.name == name)).first()
        if found is None:
            raise NoSuchUser(name)
        for key, value in values.items():
            setattr(found, key, value)
        db.add(found)
        if values.get("active") is False or "password_hash" in values:
            # A disabled user or a changed password ends every login of that user.
            db.exec(delete(ConsoleSession).where(
                col(ConsoleSession.user_id) == found.id))
        db.commit()
        return found


def set_password(engine: Engine, name: str, password_hash: str) -> ConsoleUser:
    return _change(engine, name, password_hash=password_hash)


def set_active(engine: Engine, name: str, active: bool) -> ConsoleUser:
    return _change(engine, name, active=active)


@dataclass(frozen=True)
class Login:
    """A live login: who, and the CSRF token its forms carry."""

    user: ConsoleUser
    csrf: str
    expires_at: datetime


def start_session(engine: Engine, user_id: int, token_hash: str, *, csrf: str,
                  now: datetime, expires_at: datetime) -> None:
    with session(engine) as db:
        db.exec(delete(ConsoleSession).where(
            col(ConsoleSession.expires_at) < now))
        db.add(ConsoleSession(token_hash=token_hash, user_id=user_id, csrf=csrf,
                              created_at=now, expires_at=expires_at))
        db.commit()


def login(engine: Engine, token_hash: str, now: datetime) -> Login | None:
    """The live login of an active user whose token has this hash; None when there is none."""
    with session(engine) as db:
        found = db.exec(
            select(ConsoleSession, ConsoleUser)
            .join(ConsoleUser, col(ConsoleSession.user_id) == col(ConsoleUser.id))
            .where(ConsoleSession.token_hash == token_hash,
                   col(ConsoleSession.expires_at) > now,
                   col(ConsoleUser.active).is_(True))
        ).first()
    if found is None:
        return None
    row, person = found
    return Login(person, row.csrf, row.expires_at)


def end_session(engine: Engine, token_hash: str) -> None:
    with session(engine) as db:
        db.exec(delete(ConsoleSession).where(
            col(ConsoleSession.token_hash) == token_hash))
        db.commit()


def record(engine: Engine, who: str, action: str, target: str, *, detail: str,
           at: datetime) -> None:
    """Write one line of the audit trail."""
    with session(engine) as db:
        db.add(Audit(who=who, at=at, action=action, target=target, detail=detail))
        db.commit()


def trail(engine: Engine, target: str, limit: int = 200) -> list[Audit]:
    """What was done to ``target``, newest first."""
    with session(engine) as db:
        return list(db.exec(select(Audit).where(Audit.target == target)
                            .order_by(col(Audit.id).desc()).limit(limit)).all())
