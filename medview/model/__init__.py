"""Qt-free application state and use cases shared by the GUI and the CLI."""
