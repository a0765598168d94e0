from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from psycopg import sql

# Tables whose history no role of the running app may change or remove.
APPEND_ONLY_TABLES = ("audit_typereclassification", "crawler_credentialchange")


class Command(BaseCommand):
    help = (
        "Create (or update) the PostgreSQL role the web and workers run as. Run it as the owner role, the one "
        "that runs migrations and owns the tables: the runtime role may SELECT and INSERT everywhere and UPDATE "
        "and DELETE the tables that change, but holds no UPDATE, DELETE, TRUNCATE, TRIGGER or ownership on the "
        "append-only history, so nothing the app runs can erase it. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("runtime_role", help="Name of the role the web and workers connect as.")
        parser.add_argument("--password", default="", help="Its password (omit for peer or trust authentication).")

    def handle(self, *args: Any, runtime_role: str, password: str, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Database roles are a PostgreSQL feature; DATABASE_URL points elsewhere.")
        role = sql.Identifier(runtime_role)
        database = sql.Identifier(connection.settings_dict["NAME"])
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [runtime_role])
            if not cursor.fetchone():
                cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
            if password:
                cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
            statements = [
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, role),
                sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role),
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(role),
                sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role),
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
                ).format(role),
                sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {}").format(
                    role
                ),
                *(
                    sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON {} FROM {}").format(
                        sql.Identifier(table), role
                    )
                    for table in APPEND_ONLY_TABLES
                ),
            ]
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(
            f"Role {runtime_role}: SELECT and INSERT on the history ({', '.join(APPEND_ONLY_TABLES)}), nothing more; "
            "point the web and workers' DATABASE_URL at it and keep running migrations as the owner."
        )
