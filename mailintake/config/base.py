"""What every section of the config shares, and the error a config that cannot
be used raises."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from mailintake.errors import EXIT_SETUP, Problem


class ConfigError(Problem):
    """The configuration cannot be used; the message names the key and the fix."""

    exit_code = EXIT_SETUP


class Section(BaseModel):
    """One ``[section]`` of the file."""

    # A misspelt key is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)
