"""SQL for control.db: admin-panel users, their sessions, and invitations (SPEC §4, §10)."""

from __future__ import annotations

import apsw

from reliatic_appliance.ports import Row, UniqueViolation
from reliatic_appliance.storage.sqlite import scalar, unique_failed

# Every column but the password hash: what listing and lookups by id return.
_USER_COLUMNS = "id, tenant_id, email, role, created_by, created_at, updated_at, disabled_at"
_INVITATION_COLUMNS = (
    "id, tenant_id, email, role, created_by, created_at, expires_at, used_at, used_by"
)


class SqliteUsers:
    """SQLite: `ports.UserStore`."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def insert_user(self, user: Row) -> None:
        try:
            self._conn.execute(
                "INSERT INTO users (id, tenant_id, email, role, password_hash, created_by,"
                " created_at, updated_at) VALUES (:id, :tenant_id, :email, :role,"
                " :password_hash, :created_by, :created_at, :created_at)",
                user,
            )
        except apsw.ConstraintError as exc:
            if unique_failed(exc, "users", "email"):
                raise UniqueViolation("email") from None
            raise

    def user_by_id(self, user_id: str, tenant_id: str | None = None) -> Row | None:
        if tenant_id is None:
            cursor = self._conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,)
            )
        else:
            cursor = self._conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE id = ? AND tenant_id = ?",
                (user_id, tenant_id),
            )
        return cursor.fetchone()

    def user_by_email(self, email: str) -> Row | None:
        return self._conn.execute(
            "SELECT u.id, u.tenant_id, u.email, u.role, u.password_hash, u.created_by,"
            " u.created_at, u.updated_at, u.disabled_at, t.slug AS tenant_slug,"
            " t.disabled_at AS tenant_disabled_at"
            " FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.email = ?",
            (email,),
        ).fetchone()

    def list_users(self, tenant_id: str, limit: int, offset: int) -> list[Row]:
        return list(
            self._conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE tenant_id = ?"
                " ORDER BY id LIMIT ? OFFSET ?",
                (tenant_id, limit, offset),
            )
        )

    def count_users(self, tenant_id: str) -> int:
        return int(
            scalar(self._conn, "SELECT COUNT(*) FROM users WHERE tenant_id = ?", (tenant_id,))
        )

    def disable_user(self, user_id: str, when: str) -> bool:
        self._conn.execute(
            "UPDATE users SET disabled_at = ?, updated_at = ? WHERE id = ? AND disabled_at IS NULL",
            (when, when, user_id),
        )
        return self._conn.changes() > 0


class SqliteSessions:
    """SQLite: `ports.SessionStore`."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def insert_session(self, session: Row, token_hash: bytes) -> None:
        self._conn.execute(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                session["id"],
                token_hash,
                session["user_id"],
                session["created_at"],
                session["last_seen_at"],
                session["expires_at"],
            ),
        )

    def session_for_auth(self, token_hash: bytes) -> Row | None:
        return self._conn.execute(
            "SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at,"
            " u.tenant_id, u.email, u.role, u.disabled_at, t.slug AS tenant_slug,"
            " t.disabled_at AS tenant_disabled_at, t.rate_limit_per_minute AS tenant_rate_limit"
            " FROM sessions s JOIN users u ON u.id = s.user_id"
            " JOIN tenants t ON t.id = u.tenant_id WHERE s.token_hash = ?",
            (token_hash,),
        ).fetchone()

    def touch_session(self, session_id: str, when: str) -> None:
        self._conn.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ?", (when, session_id))

    def delete_session(self, session_id: str) -> bool:
        self._conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return self._conn.changes() > 0

    def delete_user_sessions(self, user_id: str) -> int:
        self._conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        return int(self._conn.changes())

    def purge_sessions(self, *, now: str, idle_before: str) -> int:
        self._conn.execute(
            "DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?", (now, idle_before)
        )
        return int(self._conn.changes())


class SqliteInvitations:
    """SQLite: `ports.InvitationStore`."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def insert_invitation(self, invitation: Row, token_hash: bytes) -> None:
        self._conn.execute(
            "INSERT INTO invitations (id, token_hash, tenant_id, email, role, created_by,"
            " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                invitation["id"],
                token_hash,
                invitation["tenant_id"],
                invitation["email"],
                invitation["role"],
                invitation["created_by"],
                invitation["created_at"],
                invitation["expires_at"],
            ),
        )

    def invitation_by_hash(self, token_hash: bytes) -> Row | None:
        return self._conn.execute(
            f"SELECT {_INVITATION_COLUMNS} FROM invitations WHERE token_hash = ?", (token_hash,)
        ).fetchone()

    def use_invitation(self, invitation_id: str, when: str, user_id: str) -> bool:
        self._conn.execute(
            "UPDATE invitations SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL",
            (when, user_id, invitation_id),
        )
        return self._conn.changes() > 0

    def list_invitations(self, tenant_id: str, limit: int, offset: int) -> list[Row]:
        return list(
            self._conn.execute(
                f"SELECT {_INVITATION_COLUMNS} FROM invitations WHERE tenant_id = ?"
                " ORDER BY id DESC LIMIT ? OFFSET ?",
                (tenant_id, limit, offset),
            )
        )
