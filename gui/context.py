"""What every view is built with: the engine thread, the shared state, the settings and the
session (the controller that opens cases and predicts them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gui.engine_thread import EngineThread
from gui.settings import Settings
from gui.state import AppState


@dataclass
class AppContext:
    engine: EngineThread
    state: AppState
    settings: Settings
    session: Any = field(default=None, init=False)  # gui.session.Session: opens cases, predicts

    def __post_init__(self) -> None:
        from gui.session import Session

        self.session = Session(self, self.state)
