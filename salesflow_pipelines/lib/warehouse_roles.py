"""The read-only role downstream readers (BI tools, the frontend, notebooks) connect with.

`grant_reader` makes the PostgreSQL warehouse's role `salesflow_reader` exist with exactly this:
CONNECT on the warehouse database, USAGE on schema `analytics`, SELECT on its tables (also on
tables the pipelines create later, through default privileges), and nothing else: no write
privilege, no other schema, no membership of another role. It is idempotent and corrective:
running it again changes nothing, and it takes back any extra privilege granted by hand.

Run it as the role that writes the warehouse (the user of `SALESFLOW_WAREHOUSE_URL`): default
privileges follow the role that creates the tables, and the `analytics` schema must be that
role's. Creating the role needs CREATEROLE; without it, an admin creates the role once
(`CREATE ROLE salesflow_reader LOGIN`) and the command does the rest.

Dagster's own tables may share the database (schema `public`): the reader gets no privilege on
them, and the command fails if any table outside `analytics` is still readable by the role
(e.g. through a grant to PUBLIC), naming the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlparse

from salesflow_pipelines.lib.tables import SCHEMA
from salesflow_pipelines.lib.warehouse import WarehouseError, without_password

READER_ROLE = "salesflow_reader"
# Privileges a table can carry besides SELECT; all taken back from the reader.
WRITE_PRIVILEGES = "INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"


@dataclass(frozen=True)
class ReaderGrant:
    """What `grant_reader` left in place."""

    role: str
    database: str
    created: bool
    password_set: bool
    tables: list[str] = field(default_factory=list)


def grant_reader(url: str, role: str = READER_ROLE, password: str | None = None) -> ReaderGrant:
    """Create or correct the read-only `role` on the warehouse at `url` (PostgreSQL only).

    `password` (e.g. from SALESFLOW_READER_PASSWORD) is set when given, hashed on the client so
    that it never travels or gets logged in clear; without it an existing password is kept.
    """
    if urlparse(url).scheme not in ("postgresql", "postgres"):
        raise WarehouseError(
            "a read-only role needs the PostgreSQL warehouse (SALESFLOW_WAREHOUSE_URL=postgresql://…); "
            "a SQLite warehouse is a file: share a read-only copy instead"
        )
    import psycopg
    from psycopg import sql

    try:
        connection = psycopg.connect(url, connect_timeout=10)
    except psycopg.OperationalError as error:
        raise WarehouseError(f"cannot connect to the warehouse at {without_password(url)}: {error}") from error
    name = sql.Identifier(role)
    schema = sql.Identifier(SCHEMA)
    with connection:
        database = connection.execute("SELECT current_database()").fetchone()[0]
        created = _ensure_role(connection, role)
        memberships = [
            row[0]
            for row in connection.execute(
                "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s",
                (role,),
            )
        ]
        if memberships:
            raise WarehouseError(
                f"{role} is a member of {', '.join(memberships)} and would read through them; "
                f"revoke that first: REVOKE {', '.join(memberships)} FROM {role}"
            )
        if password:
            hashed = connection.pgconn.encrypt_password(password.encode(), role.encode())
            connection.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(name, sql.Literal(hashed.decode())))
        statements = [
            "ALTER ROLE {role} SET default_transaction_read_only = on",
            "GRANT CONNECT ON DATABASE {database} TO {role}",
            "CREATE SCHEMA IF NOT EXISTS {schema}",
            "REVOKE ALL ON SCHEMA {schema} FROM {role}",
            "GRANT USAGE ON SCHEMA {schema} TO {role}",
            f"REVOKE {WRITE_PRIVILEGES} ON ALL TABLES IN SCHEMA {{schema}} FROM {{role}}",
            "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role}",
            "REVOKE ALL ON SCHEMA public FROM {role}",
            "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        ]
        for statement in statements:
            connection.execute(sql.SQL(statement).format(role=name, schema=schema, database=sql.Identifier(database)))
        exposed = readable_outside_analytics(connection, role)
        if exposed:
            raise WarehouseError(
                f"{role} can still read {len(exposed)} tables outside schema {SCHEMA} (granted to PUBLIC?): "
                f"{', '.join(exposed[:10])}; revoke those grants, e.g. REVOKE SELECT ON {exposed[0]} FROM PUBLIC"
            )
        tables = [
            row[0]
            for row in connection.execute(
                # Tables as readers see them: a partitioned table once, not its monthly partitions.
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
                "AND has_table_privilege(%s, c.oid, 'SELECT') ORDER BY 1",
                (SCHEMA, role),
            )
        ]
    return ReaderGrant(role=role, database=database, created=created, password_set=bool(password), tables=tables)


def _ensure_role(connection, role: str) -> bool:
    """Create `role` (LOGIN, no special attribute) if missing, else take special attributes back."""
    import psycopg
    from psycopg import sql

    attributes = sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
    exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if exists:
        special = connection.execute(
            "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls FROM pg_roles "
            "WHERE rolname = %s",
            (role,),
        ).fetchone()[0]
        if special:
            connection.execute(sql.SQL("ALTER ROLE {} ").format(sql.Identifier(role)) + attributes)
        return False
    try:
        # Roles are cluster-wide: another database's grant-reader may create it at the same moment.
        with connection.transaction():
            connection.execute(sql.SQL("CREATE ROLE {} ").format(sql.Identifier(role)) + attributes)
    except psycopg.errors.DuplicateObject:
        return False
    except psycopg.errors.InsufficientPrivilege as error:
        raise WarehouseError(
            f"the warehouse user may not create roles; have an admin run once: CREATE ROLE {role} LOGIN, "
            "then run this command again"
        ) from error
    return True


def readable_outside_analytics(connection, role: str) -> list[str]:
    """Tables and views outside `analytics` (system catalogs aside) that `role` can SELECT."""
    rows = connection.execute(
        "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND n.nspname <> %s "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp_%%' "
        "AND has_table_privilege(%s, c.oid, 'SELECT') ORDER BY 1",
        (SCHEMA, role),
    ).fetchall()
    return [row[0] for row in rows]
