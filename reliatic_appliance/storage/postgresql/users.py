"""SQL for admin-panel users, their sessions and invitations on PostgreSQL (storage/users.py's
port, SPEC §4, §10)."""

from __future__ import annotations

from reliatic_appliance.ports import Row
from reliatic_appliance.storage.postgresql.database import Cursor
from reliatic_appliance.storage.postgresql.errors import unique_violation

_USER_COLUMNS = "id, tenant_id, email, role, created_by, created_at, updated_at, disabled_at"
_INVITATION_COLUMNS = (
    "id, tenant_id, email, role, created_by, created_at, expires_at, used_at, used_by"
)


def _count(cur: Cursor, query: str, params: tuple[str, ...]) -> int:
    row = cur.execute(query, params).fetchone()
    assert row is not None
    return int(next(iter(row.values())))


class PgUsers:
    """PostgreSQL: `ports.UserStore`. Emails are unique without case (`users_email_key` on
    lower(email), as SQLite's COLLATE NOCASE), and looked up the same way."""

    def __init__(self, cur: Cursor) -> None:
        self._cur = cur

    def insert_user(self, user: Row) -> None:
        with unique_violation("email"):
            self._cur.execute(
                "INSERT INTO users (id, tenant_id, email, role, password_hash, created_by,"
                " created_at, updated_at) VALUES (%(id)s, %(tenant_id)s, %(email)s, %(role)s,"
                " %(password_hash)s, %(created_by)s, %(created_at)s, %(created_at)s)",
                user,
            )

    def user_by_id(self, user_id: str, tenant_id: str | None = None) -> Row | None:
        if tenant_id is None:
            return self._cur.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s", (user_id,)
            ).fetchone()
        return self._cur.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s AND tenant_id = %s",
            (user_id, tenant_id),
        ).fetchone()

    def user_by_email(self, email: str) -> Row | None:
        return self._cur.execute(
            "SELECT u.id, u.tenant_id, u.email, u.role, u.password_hash, u.created_by,"
            " u.created_at, u.updated_at, u.disabled_at, t.slug AS tenant_slug,"
            " t.disabled_at AS tenant_disabled_at"
            " FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE lower(u.email) = lower(%s)",
            (email,),
        ).fetchone()

    def list_users(self, tenant_id: str, limit: int, offset: int) -> list[Row]:
        return self._cur.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE tenant_id = %s"
            " ORDER BY id LIMIT %s OFFSET %s",
            (tenant_id, limit, offset),
        ).fetchall()

    def count_users(self, tenant_id: str) -> int:
        return _count(self._cur, "SELECT count(*) FROM users WHERE tenant_id = %s", (tenant_id,))

    def disable_user(self, user_id: str, when: str) -> bool:
        self._cur.execute(
            "UPDATE users SET disabled_at = %s, updated_at = %s"
            " WHERE id = %s AND disabled_at IS NULL",
            (when, when, user_id),
        )
        return self._cur.rowcount > 0


class PgSessions:
    """PostgreSQL: `ports.SessionStore`."""

    def __init__(self, cur: Cursor) -> None:
        self._cur = cur

    def insert_session(self, session: Row, token_hash: bytes) -> None:
        self._cur.execute(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
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
        return self._cur.execute(
            "SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at,"
            " u.tenant_id, u.email, u.role, u.disabled_at, t.slug AS tenant_slug,"
            " t.disabled_at AS tenant_disabled_at, t.rate_limit_per_minute AS tenant_rate_limit"
            " FROM sessions s JOIN users u ON u.id = s.user_id"
            " JOIN tenants t ON t.id = u.tenant_id WHERE s.token_hash = %s",
            (token_hash,),
        ).fetchone()

    def touch_session(self, session_id: str, when: str) -> None:
        self._cur.execute("UPDATE sessions SET last_seen_at = %s WHERE id = %s", (when, session_id))

    def delete_session(self, session_id: str) -> bool:
        self._cur.execute("DELETE FROM sessions WHERE id = %s", (session_id,))
        return self._cur.rowcount > 0

    def delete_user_sessions(self, user_id: str) -> int:
        self._cur.execute("DELETE FROM sessions WHERE user_id = %s", (user_id,))
        return self._cur.rowcount

    def purge_sessions(self, *, now: str, idle_before: str) -> int:
        self._cur.execute(
            "DELETE FROM sessions WHERE expires_at <= %s OR last_seen_at <= %s",
            (now, idle_before),
        )
        return self._cur.rowcount


class PgInvitations:
    """PostgreSQL: `ports.InvitationStore`."""

    def __init__(self, cur: Cursor) -> None:
        self._cur = cur

    def insert_invitation(self, invitation: Row, token_hash: bytes) -> None:
        self._cur.execute(
            "INSERT INTO invitations (id, token_hash, tenant_id, email, role, created_by,"
            " created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
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
        return self._cur.execute(
            f"SELECT {_INVITATION_COLUMNS} FROM invitations WHERE token_hash = %s", (token_hash,)
        ).fetchone()

    def use_invitation(self, invitation_id: str, when: str, user_id: str) -> bool:
        self._cur.execute(
            "UPDATE invitations SET used_at = %s, used_by = %s WHERE id = %s AND used_at IS NULL",
            (when, user_id, invitation_id),
        )
        return self._cur.rowcount > 0

    def list_invitations(self, tenant_id: str, limit: int, offset: int) -> list[Row]:
        return self._cur.execute(
            f"SELECT {_INVITATION_COLUMNS} FROM invitations WHERE tenant_id = %s"
            " ORDER BY id DESC LIMIT %s OFFSET %s",
            (tenant_id, limit, offset),
        ).fetchall()
