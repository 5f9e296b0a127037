"""Everything that computes. No Qt here (checked by import-linter).

TensorFlow is heavy (about 3 s to import), so modules the GUI imports at start-up
(`engine.jobs`, `engine.errors`, `engine.fileio`) must not import it; modules that
need it are only imported on the engine thread, by name, through the task registry
(`engine.tasks`: each Request names its task function by dotted path).
"""

__version__ = "0.1.0"
