"""Foundation shared by every layer: errors, paths, logging. Stdlib and numpy only."""
