"""What every view is built with: the engine thread, the shared state and the settings."""

from __future__ import annotations

from dataclasses import dataclass

from gui.engine_thread import EngineThread
from gui.settings import Settings
from gui.state import AppState


@dataclass
class AppContext:
    engine: EngineThread
    state: AppState
    settings: Settings
