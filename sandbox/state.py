"""Everything one sandbox instance holds in memory, in one place the views share."""
from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.credits import CreditBook
from sandbox.faults import FaultBoard
from sandbox.records import MediaFacts, RecordBook
from sandbox.sessions import SessionRules
from sandbox.settings import Settings
from sandbox.uploads import UploadDesk


@dataclass
class SandboxState:
    settings: Settings
    media: MediaFacts
    records: RecordBook = field(default_factory=RecordBook)
    uploads: UploadDesk = field(default_factory=UploadDesk)
    faults: FaultBoard = field(default_factory=FaultBoard)
    credits: CreditBook = field(default_factory=CreditBook)
    sessions: SessionRules = field(default_factory=SessionRules)

    def __post_init__(self) -> None:
        self.credits.start_credits = int(self.settings.start_credits)

    def now(self) -> float:
        return self.settings.clock()

    def settle_refunds(self, now: float) -> None:
        """Give back the credits of records review has refused by now (their state is read from
        the clock, so refunds are settled whenever a balance is read or spent)."""
        for record in self.records.refunds_due(now):
            self.credits.refund(record.session_id, record.charged)

    def reset(self) -> None:
        """Forget every record, upload, fault, credit balance and logged call."""
        self.records.reset()
        self.credits.reset()
        self.sessions.reset()
        self.uploads.reset()
        self.faults.reset()
