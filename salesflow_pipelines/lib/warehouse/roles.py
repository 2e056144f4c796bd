"""The read-only role downstream readers (BI tools, the frontend, notebooks) connect with.

`grant_reader` makes the PostgreSQL warehouse's role `salesflow_reader` exist with exactly this:
CONNECT on the warehouse database, USAGE on schema `analytics`, SELECT on its tables (also on
tables the pipelines create later, through default privileges), and nothing else: no write
privilege, no other schema, no membership of another role. It is idempotent and corrective:
running it again changes nothing, and it takes back any extra privilege granted by hand.

PostgreSQL gives PUBLIC, and so every role, TEMPORARY and CONNECT on every database (and, in
databases made before PostgreSQL 15, CREATE on schema `public`). So on the warehouse database
`grant_reader` also revokes TEMPORARY and CONNECT from PUBLIC and CREATE on schema `public` from
PUBLIC. Before it does, the roles that evidently use the database (the user running the command,
roles owning objects in it or holding privileges there, roles connected to it right now, roles
with settings for it) get their own CONNECT (and, for schema `public`, the current user and the
roles owning objects there get their own CREATE), so that Dagster, the writer and other existing
readers keep working; the reader gets its own CONNECT and nothing else.

The reader can still connect to the cluster's other databases, with PUBLIC's privileges there
(TEMP tables included): revoking PUBLIC's CONNECT on them may lock out other users of a shared
cluster, so it is an explicit option, `lock_cluster` (`--lock-cluster`), off by default, for a
cluster the deployment owns. The returned `ReaderGrant` says what the role can still do and why.

Run it as the role that writes the warehouse (the user of `SALESFLOW_WAREHOUSE_URL`): default
privileges follow the role that creates the tables, and the `analytics` schema must be that
role's. Creating the role needs CREATEROLE; without it, an admin creates the role once
(`CREATE ROLE salesflow_reader LOGIN`) and the command does the rest. Only the owner of a database
(or a superuser) can revoke PUBLIC's privileges on it: run as anyone else, those stay, and the
result reports them.

Dagster's own tables may share the database (schema `public`): the reader gets no privilege on
them, and the command fails if any table outside `analytics` is still readable by the role
(e.g. through a grant to PUBLIC), naming the tables.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from urllib.parse import urlparse

from salesflow_pipelines.lib.warehouse.engine import WarehouseError, without_password
from salesflow_pipelines.lib.warehouse.tables import SCHEMA

READER_ROLE = "salesflow_reader"
# Privileges a table can carry besides SELECT; all taken back from the reader.
WRITE_PRIVILEGES = "INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"
# What every role may do in a database it can connect to and no grant in the warehouse takes back.
ALWAYS_POSSIBLE = (
    "read the system catalogs (pg_catalog, information_schema): names of tables, columns, roles and databases, "
    "not their rows; PostgreSQL grants them to PUBLIC and every client needs them",
    "call functions in the schemas it may use (pg_catalog, public, analytics): EXECUTE on functions is PUBLIC's "
    "by default",
    "create large objects (lo_create), send NOTIFY on any channel (Dagster's run_events included: a spurious "
    "wake-up, no data) and take advisory locks: PostgreSQL checks no privilege for these, even in a read-only "
    "transaction",
    "turn its read-only session default off (SET default_transaction_read_only = off): writes still fail, "
    "it holds no write privilege",
    "run queries as long and large as it likes (spilling to temporary files is not governed by TEMPORARY): "
    "limit it with ALTER ROLE ... SET statement_timeout if that matters",
)


@dataclass(frozen=True)
class ReaderGrant:
    """What `grant_reader` left in place."""

    role: str
    database: str
    created: bool
    password_set: bool
    tables: list[str] = field(default_factory=list)
    # Roles given their own CONNECT (and on the warehouse database TEMPORARY) because PUBLIC's was
    # revoked this run, by database.
    connect_kept: dict[str, list[str]] = field(default_factory=dict)
    # Roles given their own CREATE on schema public of the warehouse because PUBLIC's was revoked this run.
    create_kept: list[str] = field(default_factory=list)
    # The other databases `lock_cluster` asked for on which PUBLIC no longer has CONNECT.
    locked: list[str] = field(default_factory=list)
    # Other databases of the cluster the role can still connect to, and why.
    other_databases: dict[str, str] = field(default_factory=dict)
    # Everything the role can still do besides reading `analytics`, and why, one sentence each.
    remaining: list[str] = field(default_factory=list)


def grant_reader(
    url: str,
    role: str = READER_ROLE,
    password: str | None = None,
    *,
    lock_cluster: bool | Collection[str] = False,
) -> ReaderGrant:
    """Create or correct the read-only `role` on the warehouse at `url` (PostgreSQL only).

    `password` (e.g. from SALESFLOW_READER_PASSWORD) is set when given, hashed on the client so
    that it never travels or gets logged in clear; without it an existing password is kept.

    `lock_cluster=True` also revokes PUBLIC's CONNECT on every other database of the cluster (those
    the running user owns; roles using a database keep their own CONNECT there); a collection of
    database names does that for those databases only. Off by default: on a shared cluster it
    locks out every role that reaches another database through PUBLIC, now or created later.
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
        database, current_user = connection.execute("SELECT current_database(), current_user").fetchone()
        to_lock = _databases_to_lock(connection, lock_cluster)
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
        # Who uses the database through PUBLIC's CONNECT and TEMPORARY gets its own before PUBLIC's go.
        connect_kept = {}
        kept = _keep_connect(connection, database, role, "CONNECT, TEMPORARY", also=[current_user])
        if kept:
            connect_kept[database] = kept
        statements = [
            "ALTER ROLE {role} SET default_transaction_read_only = on",
            "REVOKE ALL ON DATABASE {database} FROM {role}",
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
        # Only the database's owner (or a superuser) can take these back; anyone else gets a warning.
        _attempt(
            connection, sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))
        )
        create_kept = _lock_public_schema(connection, role, current_user)
        locked = []
        for other in to_lock:
            kept = _keep_connect(connection, other, role, "CONNECT")
            if kept:
                connect_kept[other] = kept
            _attempt(connection, sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(other)))
            if not _public_has_connect(connection, other):
                locked.append(other)
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
        other_databases = _other_databases(connection, role, to_lock)
        remaining = _remaining(connection, role, database, other_databases)
    return ReaderGrant(
        role=role,
        database=database,
        created=created,
        password_set=bool(password),
        tables=tables,
        connect_kept=connect_kept,
        create_kept=create_kept,
        locked=locked,
        other_databases=other_databases,
        remaining=remaining,
    )


def _attempt(connection, statement) -> bool:
    """Run `statement` in a savepoint; False when the running user may not (the rest goes on)."""
    import psycopg

    try:
        with connection.transaction():
            connection.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def _databases_to_lock(connection, lock_cluster: bool | Collection[str]) -> list[str]:
    """The other databases (accepting connections) whose CONNECT `lock_cluster` asks to take from PUBLIC."""
    if not lock_cluster:
        return []
    others = [
        row[0]
        for row in connection.execute(
            "SELECT datname FROM pg_database WHERE datallowconn AND datname <> current_database() ORDER BY 1"
        )
    ]
    if lock_cluster is True:
        return others
    wanted = [lock_cluster] if isinstance(lock_cluster, str) else list(lock_cluster)
    current = connection.execute("SELECT current_database()").fetchone()[0]
    unknown = sorted(set(wanted) - set(others) - {current})
    if unknown:
        raise WarehouseError(f"no database {', '.join(unknown)} accepting connections on this cluster to lock")
    return [other for other in others if other in wanted]


def _public_has_connect(connection, database: str) -> bool:
    return connection.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
        "WHERE d.datname = %s AND a.grantee = 0 AND a.privilege_type = 'CONNECT')",
        (database,),
    ).fetchone()[0]


def _keep_connect(connection, database: str, role: str, privileges: str, also: Collection[str] = ()) -> list[str]:
    """Give `privileges` on `database` to the roles that use it through PUBLIC's CONNECT, before PUBLIC's go.

    Those are `also` and the roles owning objects in the database or holding privileges there,
    connected to it now, or with settings for it; not superusers nor the owner (they need no grant),
    not the reader `role`. Nothing to do once PUBLIC has no CONNECT on it. Returns the roles that
    now hold their own CONNECT through this.
    """
    from psycopg import sql

    if not _public_has_connect(connection, database):
        return []
    users = [
        row[0]
        for row in connection.execute(
            "SELECT r.rolname FROM pg_roles r, pg_database d WHERE d.datname = %(database)s "
            "AND r.oid <> d.datdba AND NOT r.rolsuper AND r.rolname <> %(role)s "
            "AND (r.rolname = ANY(%(also)s) "
            "OR r.oid IN (SELECT refobjid FROM pg_shdepend WHERE dbid = d.oid AND refclassid = 'pg_authid'::regclass) "
            "OR r.oid IN (SELECT usesysid FROM pg_stat_activity WHERE datid = d.oid) "
            "OR r.oid IN (SELECT setrole FROM pg_db_role_setting WHERE setdatabase = d.oid)) ORDER BY 1",
            {"database": database, "role": role, "also": list(also)},
        )
    ]
    for user in users:
        _attempt(
            connection,
            sql.SQL("GRANT {} ON DATABASE {} TO {}").format(
                sql.SQL(privileges), sql.Identifier(database), sql.Identifier(user)
            ),
        )
    return [
        row[0]
        for row in connection.execute(
            "SELECT DISTINCT pg_get_userbyid(a.grantee) FROM pg_database d, "
            "aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
            "WHERE d.datname = %s AND a.privilege_type = 'CONNECT' AND pg_get_userbyid(a.grantee) = ANY(%s) ORDER BY 1",
            (database, users),
        )
    ]


def _lock_public_schema(connection, role: str, current_user: str) -> list[str]:
    """Revoke CREATE on schema public from PUBLIC (granted before PostgreSQL 15), keeping it for its users.

    The current user and the roles owning objects in schema public (Dagster's tables) get their own
    CREATE first. Returns them (those that hold it now).
    """
    from psycopg import sql

    public_creates = connection.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a "
        "WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE')"
    ).fetchone()[0]
    if not public_creates:
        return []
    users = [
        row[0]
        for row in connection.execute(
            "SELECT r.rolname FROM pg_roles r, pg_namespace n WHERE n.nspname = 'public' "
            "AND NOT r.rolsuper AND r.rolname <> %(role)s AND NOT pg_has_role(r.oid, n.nspowner, 'USAGE') "
            "AND (r.rolname = %(current_user)s "
            "OR r.oid IN (SELECT relowner FROM pg_class WHERE relnamespace = n.oid) "
            "OR r.oid IN (SELECT proowner FROM pg_proc WHERE pronamespace = n.oid) "
            "OR r.oid IN (SELECT typowner FROM pg_type WHERE typnamespace = n.oid)) ORDER BY 1",
            {"role": role, "current_user": current_user},
        )
    ]
    for user in users:
        _attempt(connection, sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(user)))
    _attempt(connection, sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    return [
        row[0]
        for row in connection.execute(
            "SELECT DISTINCT pg_get_userbyid(a.grantee) FROM pg_namespace n, "
            "aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a "
            "WHERE n.nspname = 'public' AND a.privilege_type = 'CREATE' AND pg_get_userbyid(a.grantee) = ANY(%s) "
            "ORDER BY 1",
            (users,),
        )
    ]


def _other_databases(connection, role: str, to_lock: Collection[str]) -> dict[str, str]:
    """The cluster's other databases `role` can connect to, each with why."""
    rows = connection.execute(
        "SELECT d.datname, pg_get_userbyid(d.datdba), r.oid = d.datdba, "
        "EXISTS (SELECT 1 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
        "WHERE a.grantee = r.oid AND a.privilege_type = 'CONNECT') "
        "FROM pg_database d, pg_roles r WHERE r.rolname = %s AND d.datallowconn AND d.datname <> current_database() "
        "AND has_database_privilege(r.oid, d.oid, 'CONNECT') ORDER BY 1",
        (role,),
    ).fetchall()
    reasons = {}
    for database, owner, owns, own_grant in rows:
        if owns:
            reasons[database] = f"{role} owns it"
        elif own_grant:
            reasons[database] = (
                f"{role} has its own CONNECT there (another warehouse's grant-reader?); "
                f"if not wanted: REVOKE CONNECT ON DATABASE {database} FROM {role}"
            )
        elif database in to_lock:
            reasons[database] = (
                f"PUBLIC keeps CONNECT: only its owner {owner} or a superuser can revoke it, run as them"
            )
        else:
            reasons[database] = (
                "PUBLIC has CONNECT on every database by default; lock_cluster (--lock-cluster) revokes it, "
                "at the cost of every other role that connects there through PUBLIC, so it is off by default"
            )
    return reasons


def _remaining(connection, role: str, database: str, other_databases: dict[str, str]) -> list[str]:
    """What `role` can still do besides reading `analytics`, and why, one sentence each."""
    remaining = []
    owner = connection.execute(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
    ).fetchone()[0]
    for privilege, what in (("TEMPORARY", "create TEMP tables"), ("CREATE", "create schemas")):
        if connection.execute(
            "SELECT has_database_privilege(%s, current_database(), %s)", (role, privilege)
        ).fetchone()[0]:
            remaining.append(
                f"{what} in {database}: PUBLIC (or a grantor other than the running user) keeps {privilege} on it, "
                f"which only its owner {owner} or a superuser can revoke; run grant-reader as them"
            )
    public_create = connection.execute(
        "SELECT has_schema_privilege(%s, n.oid, 'CREATE') FROM pg_namespace n WHERE n.nspname = 'public'", (role,)
    ).fetchone()
    if public_create and public_create[0]:
        remaining.append(
            f"create objects in schema public of {database}: PUBLIC keeps CREATE there (a database made before "
            "PostgreSQL 15) and only the schema's owner or a superuser can revoke it; run grant-reader as them"
        )
    by_reason: dict[str, list[str]] = {}
    for other, reason in other_databases.items():
        by_reason.setdefault(reason, []).append(other)
    for reason, others in by_reason.items():
        remaining.append(
            f"connect to {', '.join(others)} and do there what PUBLIC may (TEMP tables, tables granted to PUBLIC, "
            f"CREATE in a schema public made before PostgreSQL 15): {reason}"
        )
    remaining.extend(ALWAYS_POSSIBLE)
    return remaining


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
