"""Sub-panels of the views (a view composes them; they hold no engine code)."""
