"""Sub-panels of the docked views (gui/views/ holds the docked views only)."""
