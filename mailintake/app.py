"""The long-lived parts one process builds from its config, once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mailintake.config.settings import Config
from mailintake.mailbox.base import Mailbox
from mailintake.office.samples import load_replies
from mailintake.replies.render import Replies
from mailintake.storage import Storage
from mailintake.store.database import Engine, make_engine

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    config: Config
    engine: Engine
    storage: Storage
    replies: Replies
    clock: Clock = field(default=system_clock)

    @classmethod
    def from_config(cls, config: Config, clock: Clock = system_clock, *,
                    create_database: bool = True) -> App:
        """Build everything; template and path problems surface here, at start.

        Without ``create_database`` a SQLite file that is not there is never made.
        """
        return cls(
            config=config,
            engine=make_engine(config.database.url, create=create_database),
            storage=Storage(config.storage.dir),
            replies=load_replies(config.templates_dir, config.smtp.from_),
            clock=clock,
        )

    def open_mailbox(self) -> Mailbox:
        box = self.config.mailbox
        if box.kind == "maildir":
            from mailintake.mailbox.maildir import MaildirMailbox

            assert box.path is not None
            return MaildirMailbox(box.path)
        from mailintake.mailbox.imap import ImapMailbox

        return ImapMailbox(
            host=box.host,
            port=box.port,
            security=box.security,
            username=box.username,
            password=box.password(),
            folder=box.folder,
            ca_file=str(box.ca_file) if box.ca_file else None,
            connect_timeout=box.connect_timeout,
            read_timeout=box.read_timeout,
            batch_size=box.batch_size,
        )

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.config.office.tz)
