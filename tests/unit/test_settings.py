"""Settings: TOML under the config dir, unknown keys kept, broken files never fatal."""

from __future__ import annotations

import logging

import pytest

from medview.core.paths import app_dirs
from medview.model.settings import Settings, load_settings, settings_path, to_toml, tomllib


def test_missing_file_gives_defaults_silently(caplog):
    with caplog.at_level(logging.WARNING):
        settings = load_settings()
    assert settings == Settings()
    assert settings.theme == "dark" and settings.default_layout == "2x2"
    assert settings.path == app_dirs().config / "settings.toml" == settings_path()
    assert not caplog.records


def test_round_trip_keeps_unknown_keys():
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(
        'theme = "light"\nfuture_option = 3\ncolours = ["red", "green"]\n'
        "[presets.lung]\ncenter = -600\nwidth = 1500.5\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.theme == "light"
    assert settings.extra == {
        "future_option": 3,
        "colours": ["red", "green"],
        "presets": {"lung": {"center": -600, "width": 1500.5}},
    }
    settings.default_layout = "1x2"
    settings.last_import_folder = 'C:\\DICOM\\"quoted"\n山田'
    settings.save()
    again = load_settings()
    assert again == settings
    assert again.extra["presets"]["lung"]["width"] == 1500.5
    # Nothing but the file is left in the folder (the temp file was renamed over it).
    assert [p.name for p in path.parent.iterdir()] == ["settings.toml"]


@pytest.mark.parametrize(
    "text",
    [
        "theme = 'dark\n",  # unterminated string
        "[[[",
        "\xff\xfe not utf-8",
    ],
)
def test_broken_file_gives_defaults_and_a_warning(text, caplog):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger="medview.model.settings"):
        settings = load_settings()
    assert settings == Settings()
    assert caplog.records and caplog.records[0].levelno == logging.WARNING


def test_wrong_values_fall_back_one_by_one(caplog):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(
        'theme = "neon"\ndefault_layout = 4\nlanguage = "zh_CN"\nlast_import_folder = "/data"\n',
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="medview.model.settings"):
        settings = load_settings()
    assert settings.theme == "dark" and settings.default_layout == "2x2"
    assert settings.language == "zh_CN" and settings.last_import_folder == "/data"
    assert len(caplog.records) == 2


def test_to_toml_is_read_back_by_tomllib():
    data = {
        "a": 'quote " backslash \\ tab \t bell \x07',
        "b": True,
        "c": 1.5,
        "d": [1, 2],
        "key with space": "x",
        "t": {"inner": {"deep": "ok"}, "n": 0},
    }
    assert tomllib.loads(to_toml(data)) == data


def test_save_to_an_unwritable_place_raises_oserror(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError):
        Settings().save(blocker / "settings.toml")


def test_left_drag_key_bindings_and_window_presets_round_trip(tmp_path):
    from medview.model.settings import Settings, load_settings

    path = tmp_path / "settings.toml"
    settings = Settings(
        left_drag="pan",
        key_bindings={"tool.length": ["D"], "edit.redo": ["Ctrl+Y", "Ctrl+Shift+Z"]},
        window_presets={"lung": (-500.0, 1400.0), "pe study": (100.0, 700.0)},
    )
    settings.save(path)
    again = load_settings(path)
    assert again.left_drag == "pan"
    assert again.key_bindings == settings.key_bindings
    assert again.window_presets == settings.window_presets


def test_bad_left_drag_bindings_and_presets_are_dropped_one_by_one(tmp_path, caplog):
    from medview.model.settings import load_settings

    path = tmp_path / "settings.toml"
    path.write_text(
        'left_drag = "spin"\n'
        "[key_bindings]\n"
        '"tool.length" = "D"\n'
        '"tool.angle" = 3\n'
        "[window_presets.lung]\n"
        "center = -600\n"
        "width = 1500\n"
        "[window_presets.bad]\n"
        "center = 40\n"
        "width = -1\n",
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert settings.left_drag == "window"
    assert settings.key_bindings == {"tool.length": ["D"]}
    assert settings.window_presets == {"lung": (-600.0, 1500.0)}
    assert "tool.angle" in caplog.text and "bad" in caplog.text
