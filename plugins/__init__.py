"""medview's bundled plugins (installed as the ``medview_plugins`` package).

medview never imports this package: it finds the plugin folders in it and imports a plugin's
code only when the plugin is first prepared (see plugins/README.md).
"""
