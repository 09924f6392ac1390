"""Every user-visible string of the GUI has a finished Simplified Chinese translation.

The strings are found in the source (``medview/view`` and ``medview/app``) with :mod:`ast`:

- ``QCoreApplication.translate("Context", text)`` and ``pacs_common.tr("Context", text)``;
- ``self.tr(text)`` in a class (the context is the class name);
- module-level helpers that wrap one of those with a fixed context (``def _tr(text): return
  QCoreApplication.translate("QtMainWindow", text)``, or a helper calling such a helper), found
  per module, so a new module's ``_tr`` with a new context is picked up by itself;
- a helper handed to another function (``derived_lines(meta, _tr)``): see ``PASSED``.

A literal argument is taken as it is. Any other argument is evaluated in the module's own
namespace, with the loop variables of the enclosing ``for`` loops and comprehensions bound to
each item (``[_tr(c) for c in COLUMNS]``, ``_tr(_TOOL_TITLES[tool])`` in ``for tool in TOOLS``);
a look-up in a module-level dict whose key is not known takes all its values. What still cannot
be resolved must be listed in ``DYNAMIC``, so a new computed string fails here until someone
says what it can be.

Then each (context, source) must have a non-empty translation that is not marked unfinished
in ``medview_zh_CN.ts``, except the contexts and strings in the allow-lists below (each with
its reason), and the compiled ``medview_zh_CN.qm`` must hold exactly what the ``.ts`` says:
every translation is looked up through a ``QTranslator`` loaded from the ``.qm``.
Rebuild it with ``.venv/bin/pyside6-lrelease medview/resources/i18n/medview_zh_CN.ts``.
"""

from __future__ import annotations

import ast
import functools
import importlib
import itertools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("medview/view", "medview/app")
TS = ROOT / "medview/resources/i18n/medview_zh_CN.ts"
QM = TS.with_suffix(".qm")

#: Contexts left in English on purpose.
UNTRANSLATED_CONTEXTS = {
    # Text drawn inside the VTK views (corner text, the derived image's warning lines, view
    # titles): without a CJK font file VTK's own fonts draw a Chinese sentence as boxes, and
    # these call sites have no English fallback (see the comment at the top of the .ts).
    "QtSliceView": "drawn by VTK, which may have no CJK font, with no English fallback",
    "QtVolumeView": "drawn by VTK, which may have no CJK font, with no English fallback",
}

_VTK_TEXT = "drawn inside the VTK views by SetInput, without the CJK font switch"

#: Single strings left in English on purpose: (context, source) -> reason.
UNTRANSLATED_STRINGS: dict[tuple[str, str], str] = {
    # The MPR views' plane titles (mpr_layout.py, make_text) and the measured values
    # (measure_actors.value_text, drawn next to each measurement; the measurement and report
    # panels show the same text): numbers and units with a word or two.
    ("QtMprLayout", "Axial"): _VTK_TEXT,
    ("QtMprLayout", "Coronal"): _VTK_TEXT,
    ("QtMprLayout", "Sagittal"): _VTK_TEXT,
    ("QtMprLayout", "{value:.1f} mm"): _VTK_TEXT,
    ("QtMprLayout", "{value:.1f}°"): _VTK_TEXT,
    ("QtMprLayout", "area {area:.0f} mm²"): _VTK_TEXT,
    ("QtMprLayout", "mean {mean:.0f}{units}, SD {sd:.0f}, area {area:.0f} mm²"): _VTK_TEXT,
    ("QtMprLayout", "outside"): _VTK_TEXT,
    ("QtMprLayout", "{value}{units} at ({where}) mm"): _VTK_TEXT,
    # The AI panel's job table has a column without a header (the Cancel buttons).
    ("QtAiPanel", ""): "empty header, not a message",
}


def _job_states() -> list[str]:
    from medview.ai.jobs import JobState

    return [state.value for state in JobState]


def _review_states() -> list[str]:
    from medview.model.review import ReviewStatus

    return [status.value for status in ReviewStatus]


def _derived_lines() -> list[str]:
    from medview.model.overlay_text import AI_GENERATED_LINE, DERIVATION_LINE

    return [AI_GENERATED_LINE, DERIVATION_LINE]


def _prior_title_words() -> tuple[str, ...]:
    from medview.model.prior_compare import TITLE_WORDS

    return TITLE_WORDS


#: Computed arguments the evaluation cannot resolve: (file, argument source) -> its values.
DYNAMIC: dict[tuple[str, str], Callable[[], Iterable[str]]] = {
    ("medview/view/ai_panel.py", "job.state.value"): _job_states,
    ("medview/view/ai_panel.py", "finding.status.value"): _review_states,
}

#: A translation helper handed to a function that calls it: (file, called function) -> the
#: strings it translates with it.
PASSED: dict[tuple[str, str], Callable[[], Iterable[str]]] = {
    ("medview/view/slice_overlays.py", "derived_lines"): _derived_lines,
    ("medview/app/prior_wiring.py", "titles"): _prior_title_words,
}


@dataclass(frozen=True)
class Message:
    context: str
    source: str
    where: str  # file:line, for the failure message


def _translate_context(call: ast.Call) -> ast.expr | None:
    """The context argument when ``call`` is translate("Ctx", ...) or pacs_common.tr(...)."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "translate" and len(call.args) >= 2:
        return call.args[0]
    if isinstance(func, ast.Name) and func.id == "tr" and len(call.args) >= 2:
        return call.args[0]
    return None


def _wrappers(tree: ast.Module) -> dict[str, str]:
    """Module-level functions translating their first parameter with a fixed context."""
    found: dict[str, str] = {}
    changed = True
    while changed:  # a helper may call another helper of the same module
        changed = False
        for function in tree.body:
            if not isinstance(function, ast.FunctionDef) or function.name in found:
                continue
            if not function.args.args:
                continue
            param = function.args.args[0].arg
            for node in ast.walk(function):
                if not isinstance(node, ast.Call):
                    continue
                context = _translate_context(node)
                if (
                    isinstance(context, ast.Constant)
                    and isinstance(node.args[1], ast.Name)
                    and node.args[1].id == param
                ):
                    found[function.name] = context.value
                elif (
                    isinstance(node.func, ast.Name)
                    and node.func.id in found
                    and node.args
                    and isinstance(node.args[0], ast.Name)
                    and node.args[0].id == param
                ):
                    found[function.name] = found[node.func.id]
                else:
                    continue
                changed = True
                break
    return found


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _loops(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> list[tuple[ast.expr, ast.expr]]:
    """(target, iterable) of the for loops and comprehensions around ``node``, outermost first."""
    loops = []
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.For) and child is not parent.iter:
            loops.append((parent.target, parent.iter))
        elif isinstance(parent, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            loops.extend((gen.target, gen.iter) for gen in reversed(parent.generators))
        child, parent = parent, parents.get(parent)
    return loops[::-1]


def _evaluate(arg: ast.expr, loops, namespace: dict) -> list[str]:
    """The values ``arg`` takes, the loop variables running over their module-level iterables."""
    code = compile(ast.Expression(arg), "<arg>", "eval")
    values: list[str] = []

    def run(depth: int, scope: dict) -> None:
        if depth == len(loops):
            values.append(eval(code, namespace, scope))
            return
        target, iterable = loops[depth]
        used = _free_names(arg).union(*(_free_names(i) for _, i in loops[depth + 1 :]))
        if not _free_names(target) & used:
            run(depth + 1, scope)  # a loop the argument does not depend on
            return
        assign = compile(
            ast.fix_missing_locations(
                ast.Module([ast.Assign([target], ast.Name("_item", ast.Load()))], type_ignores=[])
            ),
            "<target>",
            "exec",
        )
        for item in eval(compile(ast.Expression(iterable), "<iter>", "eval"), namespace, scope):
            inner = dict(scope, _item=item)
            exec(assign, namespace, inner)
            run(depth + 1, inner)

    run(0, {})
    return values


def _free_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _dict_values(arg: ast.expr, namespace: dict) -> list[str] | None:
    """All values of a module-level dict looked up by an unknown key (``D[k]``, ``D.get(k, ..)``)."""
    if isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Name):
        table = namespace.get(arg.value.id)
    elif (
        isinstance(arg, ast.Call)
        and isinstance(arg.func, ast.Attribute)
        and arg.func.attr == "get"
        and isinstance(arg.func.value, ast.Name)
    ):
        table = namespace.get(arg.func.value.id)
    else:
        return None
    return list(table.values()) if isinstance(table, dict) else None


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _resolve(path: Path, arg: ast.expr, loops) -> list[str]:
    relative = path.relative_to(ROOT).as_posix()
    where = f"{relative}:{arg.lineno}"
    if isinstance(arg, ast.Constant):
        assert isinstance(arg.value, str), f"{where}: translating a non-string {arg.value!r}"
        return [arg.value]
    key = (relative, ast.unparse(arg))
    if key in DYNAMIC:
        return list(DYNAMIC[key]())
    namespace = vars(importlib.import_module(_module_name(path)))
    try:
        values = _evaluate(arg, loops, namespace)
    except (NameError, AttributeError, KeyError, TypeError):
        values = _dict_values(arg, namespace)
        if values is None:
            pytest.fail(
                f"{where}: cannot tell which strings {ast.unparse(arg)!r} can be; "
                "list them in DYNAMIC"
            )
    assert all(isinstance(v, str) for v in values), f"{where}: {values!r}"
    return values


def extract(path: Path) -> Iterator[Message]:
    """The (context, source) pairs ``path`` translates."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    wrappers = _wrappers(tree)
    parents = _parents(tree)
    relative = path.relative_to(ROOT).as_posix()
    wrapper_defs = {
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in wrappers
    }

    def enclosing(node: ast.AST, kind: type) -> ast.AST | None:
        while node in parents:
            node = parents[node]
            if isinstance(node, kind):
                return node
        return None

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if enclosing(node, ast.FunctionDef) in wrapper_defs:
            continue  # the helper's own body translates its parameter
        context_arg = _translate_context(node)
        if context_arg is not None:
            if not isinstance(context_arg, ast.Constant):
                function = enclosing(node, ast.FunctionDef)
                params = {a.arg for a in function.args.args} if function else set()
                if isinstance(context_arg, ast.Name) and context_arg.id in params:
                    continue  # a helper passing its context on: pacs_common.tr itself
                pytest.fail(f"{relative}:{node.lineno}: computed translation context")
            context, arg = context_arg.value, node.args[1]
        elif isinstance(func, ast.Name) and func.id in wrappers and node.args:
            context, arg = wrappers[func.id], node.args[0]
        elif (
            isinstance(func, ast.Attribute)
            and func.attr == "tr"
            and isinstance(func.value, ast.Name)
            and func.value.id == "self"
            and node.args
        ):
            cls = enclosing(node, ast.ClassDef)
            assert cls is not None, f"{relative}:{node.lineno}: self.tr outside a class"
            context, arg = cls.name, node.args[0]
        else:
            handed = [
                a.id
                for a in [*node.args, *(k.value for k in node.keywords)]
                if isinstance(a, ast.Name) and a.id in wrappers
            ]
            for helper in handed:
                name = ast.unparse(func).rsplit(".", 1)[-1]
                strings = PASSED.get((relative, name))
                assert strings is not None, (
                    f"{relative}:{node.lineno}: {helper} is handed to {name}; "
                    "list what it translates in PASSED"
                )
                for source in strings():
                    yield Message(wrappers[helper], source, f"{relative}:{node.lineno}")
            continue
        for source in _resolve(path, arg, _loops(node, parents)):
            yield Message(context, source, f"{relative}:{node.lineno}")


@functools.cache
def source_messages() -> tuple[Message, ...]:
    files = sorted(itertools.chain.from_iterable((ROOT / d).glob("*.py") for d in SOURCE_DIRS))
    return tuple(message for path in files for message in extract(path))


def ts_messages() -> dict[tuple[str, str], tuple[str, bool]]:
    """(context, source) -> (translation, finished) from the .ts file."""
    shipped = {}
    for context in ET.parse(TS).getroot().iter("context"):
        name = context.findtext("name")
        for message in context.iter("message"):
            translation = message.find("translation")
            assert translation is not None
            finished = translation.get("type") not in ("unfinished", "obsolete", "vanished")
            key = (name, message.findtext("source"))
            assert key not in shipped, f"{key} appears twice in the .ts"
            shipped[key] = (translation.text or "", finished)
    return shipped


def _allowed(message: Message) -> bool:
    return (
        message.context in UNTRANSLATED_CONTEXTS
        or (message.context, message.source) in UNTRANSLATED_STRINGS
    )


def test_the_extractor_finds_the_known_kinds_of_call():
    messages = {(m.context, m.source) for m in source_messages()}
    expected = {
        ("QtMainWindow", "&File"),  # _tr in main_window.py
        ("QtStudyBrowser", "Date"),  # self.tr(title) for title in _COLUMNS
        ("QtPacsQueryDialog", "Patient ID"),  # pacs_common.tr via _tr, [_tr(c) for c in COLUMNS]
        ("QtAiPanel", "Positive only"),  # _tr(_SIGN_LABELS[mode]) for mode in SIGN_MODES
        ("QtMprLayout", "Lung"),  # _tr(preset.label) for preset in CT_PRESETS
        ("QtMainWindow", "Soft tissue"),  # _tr(label) for name, (label, *_) in PRESETS.items()
        ("QtSliceView", "AI-GENERATED — not for diagnosis"),  # derived_lines(meta, _tr)
        ("QtJobRunner", "An unexpected error occurred ({name}); details are in the log file."),
    }
    assert expected <= messages, sorted(expected - messages)


def test_every_gui_string_has_a_finished_chinese_translation():
    shipped = ts_messages()
    missing, unfinished = set(), set()
    for message in source_messages():
        if _allowed(message):
            continue
        key = (message.context, message.source)
        if key not in shipped:
            missing.add((*key, message.where))
        elif not shipped[key][0].strip() or not shipped[key][1]:
            unfinished.add((*key, message.where))
    assert not missing, "not in medview_zh_CN.ts:\n" + "\n".join(map(str, sorted(missing)))
    assert not unfinished, "empty or unfinished:\n" + "\n".join(map(str, sorted(unfinished)))


def test_allow_lists_are_not_stale():
    messages = {(m.context, m.source) for m in source_messages()}
    contexts = {m.context for m in source_messages()}
    assert set(UNTRANSLATED_CONTEXTS) <= contexts
    assert set(UNTRANSLATED_STRINGS) <= messages, sorted(set(UNTRANSLATED_STRINGS) - messages)


def test_translations_keep_placeholders_and_markup():
    import re

    tokens = re.compile(r"\{[^{}]*\}|%n|%\d|<[^>]+>|&[a-z]+;")
    for (context, source), (translation, _finished) in ts_messages().items():
        if not translation:
            continue
        assert sorted(tokens.findall(source)) == sorted(tokens.findall(translation)), (
            context,
            source,
            translation,
        )
        accelerator = re.search(r"&(?!&)(\w)", source.replace("&&", ""))
        if accelerator:
            shortcut = accelerator.group(1).upper()
            assert f"&{shortcut}" in translation.upper(), (context, source, translation)


def test_compiled_qm_matches_the_ts():
    from PySide6.QtCore import QTranslator

    translator = QTranslator()
    assert translator.load(str(QM)), f"{QM} does not load"
    stale = [
        (context, source)
        for (context, source), (translation, finished) in ts_messages().items()
        if translation and finished and translator.translate(context, source) != translation
    ]
    assert not stale, (
        f"{QM.name} is older than the .ts (rebuild with .venv/bin/pyside6-lrelease "
        f"{TS.relative_to(ROOT)}): {stale[:5]} ({len(stale)} in all)"
    )
