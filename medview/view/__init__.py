"""Qt and VTK widgets. Only this package and :mod:`medview.app` may import PySide6 or VTK."""
