"""The schema: every model, importable from one place."""

from tracker.models.account import (
    RecoveryCode,
    SignInAttempt,
    SignInThrottle,
    TokenPurpose,
    UserToken,
)
from tracker.models.audit import AuditEvent
from tracker.models.base import Base
from tracker.models.board import BoardSummary
from tracker.models.jobs import JobRun, ReminderRecord
from tracker.models.notification import Notification
from tracker.models.organisation import Organisation, OrganisationContact
from tracker.models.place import Place, Priority
from tracker.models.pledge import (
    Commitment,
    CommitmentProposal,
    Milestone,
    Pledge,
    TargetChange,
    Theme,
)
from tracker.models.reporting import (
    CommitmentUpdate,
    EvidenceFile,
    ReportingPeriod,
    Return,
    ReturnEvent,
)
from tracker.models.tally import Tally
from tracker.models.user import User

__all__ = [
    "AuditEvent",
    "Base",
    "BoardSummary",
    "Commitment",
    "CommitmentProposal",
    "CommitmentUpdate",
    "EvidenceFile",
    "JobRun",
    "Milestone",
    "Notification",
    "Organisation",
    "OrganisationContact",
    "Place",
    "Pledge",
    "Priority",
    "RecoveryCode",
    "ReminderRecord",
    "ReportingPeriod",
    "Return",
    "ReturnEvent",
    "SignInAttempt",
    "SignInThrottle",
    "Tally",
    "TargetChange",
    "Theme",
    "TokenPurpose",
    "User",
    "UserToken",
]
