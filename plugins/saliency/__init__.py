"""See plugin.toml and MODEL_CARD.md."""
