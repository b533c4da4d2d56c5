"""Full-text search over the pieces' titles and texts that finds a two-character word.

Chinese has no spaces, and neither SQLite's trigram tokenizer nor PostgreSQL's
pg_trgm matches fewer than three characters, yet most Chinese words have two
(教研, 安全). So the index holds the text's character bigrams: every pair of
adjacent letters or digits, lower-cased. A word is looked up by all its
bigrams, and the pieces found are checked to hold the word itself.

- SQLite: an FTS5 table ``piece_search`` (contentless) of the bigrams joined by
  spaces, kept by triggers on ``submission`` that call ``mi_bigrams``, a
  function every connection registers (``register``).
- PostgreSQL: a table ``piece_search`` (submission_id, grams text[]) with a GIN
  index, kept by a trigger; ``mi_bigrams`` is the same function in SQL.

Both are made by migration 0008_console and are not models: the schema test
leaves names starting with ``piece_search`` out (``SEARCH_TABLES``). A later
migration that rebuilds ``submission`` in batch mode on SQLite drops its
triggers and must make them again (``sqlite_schema``).
"""

from __future__ import annotations

import itertools
import sqlite3

#: The prefix of the tables this module owns (FTS5 adds shadow tables to its own).
SEARCH_TABLES = "piece_search"


def bigrams(text: str) -> list[str]:
    """Every distinct pair of adjacent letters or digits in ``text``, lower-cased, in order."""
    seen: dict[str, None] = {}
    low = text.lower()
    for first, second in itertools.pairwise(low):
        if first.isalnum() and second.isalnum():
            seen[first + second] = None
    return list(seen)


def _joined(text: str | None) -> str:
    return " ".join(bigrams(text or ""))


def register(connection: sqlite3.Connection) -> None:
    """Make ``mi_bigrams`` known to a SQLite connection (the triggers call it)."""
    connection.create_function("mi_bigrams", 1, _joined, deterministic=True)


def sqlite_schema() -> list[str]:
    """The statements that make the SQLite index and its triggers."""
    return [
        "CREATE VIRTUAL TABLE piece_search USING fts5("
        "grams, content='', tokenize='unicode61 remove_diacritics 0')",
        "CREATE TRIGGER piece_search_insert AFTER INSERT ON submission BEGIN "
        "INSERT INTO piece_search(rowid, grams) "
        "VALUES (new.id, mi_bigrams(new.title || char(10) || new.text)); END",
        "CREATE TRIGGER piece_search_delete AFTER DELETE ON submission BEGIN "
        "INSERT INTO piece_search(piece_search, rowid, grams) "
        "VALUES ('delete', old.id, mi_bigrams(old.title || char(10) || old.text)); END",
        "CREATE TRIGGER piece_search_update AFTER UPDATE OF title, text ON submission BEGIN "
        "INSERT INTO piece_search(piece_search, rowid, grams) "
        "VALUES ('delete', old.id, mi_bigrams(old.title || char(10) || old.text)); "
        "INSERT INTO piece_search(rowid, grams) "
        "VALUES (new.id, mi_bigrams(new.title || char(10) || new.text)); END",
        "INSERT INTO piece_search(rowid, grams) "
        "SELECT id, mi_bigrams(title || char(10) || text) FROM submission",
    ]


def sqlite_drop() -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS piece_search_insert",
        "DROP TRIGGER IF EXISTS piece_search_delete",
        "DROP TRIGGER IF EXISTS piece_search_update",
        "DROP TABLE IF EXISTS piece_search",
    ]


def postgresql_schema() -> list[str]:
    """The statements that make the PostgreSQL index, its function and its trigger."""
    return [
        # Every pair without a space: a superset of the Python pairs a query looks up
        # (whether [[:alnum:]] knows Chinese depends on the database's locale). The
        # characters are split once and paired with lead(): substr(doc, i, 2) walks the
        # UTF-8 text from its start for each i, eight times slower on a 450-character text.
        r"""CREATE FUNCTION mi_bigrams(doc text) RETURNS text[] LANGUAGE sql IMMUTABLE
        PARALLEL SAFE AS $$
          SELECT coalesce(array_agg(DISTINCT g), '{}') FROM (
            SELECT c || lead(c) OVER (ORDER BY n) AS g
            FROM unnest(regexp_split_to_array(lower(doc), '')) WITH ORDINALITY AS t(c, n)
          ) pairs
          WHERE g IS NOT NULL AND g !~ '\s'
        $$""",
        "CREATE TABLE piece_search (submission_id integer PRIMARY KEY "
        "REFERENCES submission(id) ON DELETE CASCADE, grams text[] NOT NULL)",
        "CREATE INDEX piece_search_grams ON piece_search USING gin (grams)",
        r"""CREATE FUNCTION piece_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO piece_search (submission_id, grams)
          VALUES (NEW.id, mi_bigrams(NEW.title || E'\n' || NEW.text))
          ON CONFLICT (submission_id) DO UPDATE SET grams = EXCLUDED.grams;
          RETURN NEW;
        END $$""",
        "CREATE TRIGGER piece_search_sync AFTER INSERT OR UPDATE OF title, text ON submission "
        "FOR EACH ROW EXECUTE FUNCTION piece_search_sync()",
        "INSERT INTO piece_search (submission_id, grams) "
        "SELECT id, mi_bigrams(title || E'\\n' || text) FROM submission",
    ]


def postgresql_drop() -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS piece_search_sync ON submission",
        "DROP FUNCTION IF EXISTS piece_search_sync()",
        "DROP TABLE IF EXISTS piece_search",
        "DROP FUNCTION IF EXISTS mi_bigrams(text)",
    ]


def fts_query(word: str) -> str | None:
    """The FTS5 query for ``word``: all its bigrams; None when it has none (one letter)."""
    grams = bigrams(word)
    return " AND ".join(f'"{gram}"' for gram in grams) if grams else None


