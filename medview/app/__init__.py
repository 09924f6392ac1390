"""Composition root: the main window, its actions, and the GUI entry point."""
