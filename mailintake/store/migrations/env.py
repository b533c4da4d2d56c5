"""Alembic environment: runs migrations on the engine mailintake hands over.

On SQLite, a migration that changes a column rebuilds its table (batch mode:
copy, drop, rename), and dropping a table other rows point at fails while
foreign keys are enforced. So they are off during the migration, as SQLite's
documentation prescribes for such changes, and checked once it is done.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import mailintake.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:  # outside any transaction, or SQLite ignores it
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=SQLModel.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows pointing nowhere: {broken[:5]}")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
