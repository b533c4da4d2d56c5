"""The tables: the mail side's (``models.mail``: units and their correspondents,
every mail the mailbox delivered, the submissions filed from them, the outbox of
replies) and the office side's (``models.office``: adoptions and points, the
console, what the office publishes and asks for).

Times are always timezone-aware; UIDs and UIDVALIDITY are unsigned 32-bit on
the wire, so they are BigInteger here. Schema changes go through Alembic
(``mailintake/migrations``), never through ``create_all``.
"""

from mailintake.store.models.base import AwareDateTime, utcnow
from mailintake.store.models.mail import (
    STATUS_LABELS,
    VIA_LABELS,
    Attachment,
    Correspondent,
    CorrespondentAddress,
    CorrespondentUnit,
    Finding,
    InboundMessage,
    OutboxMessage,
    OutboxStatus,
    Outcome,
    ReplyBounce,
    Status,
    Submission,
    TextBand,
    Unit,
)
from mailintake.store.models.office import (
    Adoption,
    Audit,
    Briefing,
    BriefingPiece,
    Bulletin,
    ConsoleSession,
    ConsoleUser,
    PointEntry,
    Runtime,
    Solicitation,
    SolicitationUnit,
)

__all__ = [
    "STATUS_LABELS",
    "VIA_LABELS",
    "Adoption",
    "Attachment",
    "Audit",
    "AwareDateTime",
    "Briefing",
    "BriefingPiece",
    "Bulletin",
    "ConsoleSession",
    "ConsoleUser",
    "Correspondent",
    "CorrespondentAddress",
    "CorrespondentUnit",
    "Finding",
    "InboundMessage",
    "OutboxMessage",
    "OutboxStatus",
    "Outcome",
    "PointEntry",
    "ReplyBounce",
    "Runtime",
    "Solicitation",
    "SolicitationUnit",
    "Status",
    "Submission",
    "TextBand",
    "Unit",
    "utcnow",
]
