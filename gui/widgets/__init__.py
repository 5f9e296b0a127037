"""Reusable widgets shared by the views (pyqtgraph panels, forms, controls)."""
