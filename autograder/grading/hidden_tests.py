"""Hidden tests written as plain Python, nbgrader's way, and judged in the grading process, never in the kernel.

An instructor writes a hidden test as nbgrader's documentation does: ``assert`` statements with Japanese
messages, arithmetic on the notebook's variables, calls into a check library::

    ### BEGIN HIDDEN TESTS
    from autograder.checks import structure
    assert model.count_params() == 54_410, "パラメータの合計が 54,410 になっていません。"
    structure.check_structure(model, MODEL, input_shape=(28, 28, 1))
    ### END HIDDEN TESTS

Plain nbgrader runs that block in the student's kernel, where the student's code can replace what it calls
(``keras.Model.count_params = lambda self: 54410``, ``np.array_equal = lambda *a: True``, ``AssertionError``).
Here the block never runs there.  Before the kernel runs a graded cell, the block is replaced by one call that
writes down, as plain data (``autograder.grading.kernel.evidence``), the variables the block reads — found from
its code (``reads_of``), or declared in a comment line ``# reads: a, b``.  After the notebook has run and the
sandbox is gone, ``judge`` runs the block here on that evidence, with the real NumPy, Keras and check library:

- the names the notebook's locked cells import, define (functions, classes) or set to a literal constant
  (``ACCURACY_GOAL = 0.93`` written by the instructor outside the solution) are the source notebook's, run
  here, whatever the student rebound them to;
- the displayed figures are ``shown_figures`` (oldest first, as the figure library reads them);
- a failed ``assert`` is the student's lost point, its message the student's message; a library's
  ``CheckFailed``/``NotAttempted`` likewise; a ``NameError`` on a variable the notebook never made is
  "not attempted", naming it;
- any other exception is the instructor's test failing (a student's value the test did not expect, or a
  bug in it): the toolkit's error for the instructor, never a student's 0.

A graded test cell without a hidden block is judged the same way as a whole (it also runs in the kernel, as
the students' own self-check), and a hidden block that calls ``check_x(globals())`` keeps the older route of
``autograder.grading.verdicts``.
"""
from __future__ import annotations

import ast
import builtins
import re
import traceback
from collections import Counter
from dataclasses import dataclass

from autograder.course.cells import nbgrader_metadata

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*(?:\n|\Z)",
                    re.MULTILINE | re.DOTALL)
SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n.*?^[ \t]*### END SOLUTION[ \t]*(?:\n|\Z)",
                      re.MULTILINE | re.DOTALL)
DECLARED = re.compile(r"^[ \t]*#[ \t]*reads:[ \t]*([\w, \t]+)$", re.MULTILINE)
"""A comment line declaring names the block reads that its code does not show (``# reads: model, result``)."""

FIGURES_NAME = "shown_figures"
"""The name under which a plain hidden test reads the figures the notebook displayed, oldest first."""

KEY_PREFIX = "hidden-test."
"""Evidence folders of plain hidden tests: ``hidden-test.<grade_id>`` (a check's is its module's dotted name, which
never starts with this)."""

FAILED = "この問題の隠しテストの条件を満たしていません。問題文の指示と、すぐ下の自己チェックを見直しましょう。"
"""The student's message for a failed ``assert`` that carries none."""

_GRADE_ID = re.compile(r"^[\w-]{1,100}$")
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class PlainTest:
    """One graded cell's hidden test, as the source notebook writes it."""

    grade_id: str
    code: str
    """The hidden block (or the whole cell when it has none), run by ``judge``."""

    reads: tuple[str, ...]
    """The notebook variables it reads, collected in the kernel (sorted)."""

    figures: bool
    """Whether it reads ``shown_figures``."""

    whole_cell: bool
    """True when the cell has no hidden block: the whole cell is the test (and also runs in the kernel)."""

    @property
    def key(self) -> str:
        """The name of its evidence folder."""
        return f"{KEY_PREFIX}{self.grade_id}"


@dataclass(frozen=True)
class Given:
    """What the source notebook's locked cells import, define and set to literal constants: run in the grading
    process before each test, so that the test reads the instructor's names, never the student's."""

    code: str
    names: frozenset[str]
    free: dict[str, frozenset[str]]
    """Each given function's or class's free names (what it reads from the notebook's variables when called)."""


def _bound(tree: ast.AST) -> set[str]:
    """Every name ``tree`` binds anywhere: assigned, imported, defined, a parameter, an exception's name."""
    extra = {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    extra |= {node.name for node in ast.walk(tree) if isinstance(node, ast.ExceptHandler) and node.name}
    return set(_bindings(tree)) | extra


def free_names(tree: ast.AST) -> set[str]:
    """Names ``tree`` reads but never binds, builtins left out."""
    loaded = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    return loaded - _bound(tree) - _BUILTINS


def reads_of(code: str, given: Given) -> tuple[set[str], bool]:
    """The notebook variables ``code`` reads (with those of the given functions it calls, transitively, and the
    ``# reads:`` declarations), and whether it reads ``shown_figures``."""
    names = free_names(ast.parse(code))
    for line in DECLARED.findall(code):
        names |= {n.strip() for n in line.split(",") if n.strip().isidentifier()}
    seen: set[str] = set()
    pending = [n for n in names if n in given.free]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for inner in given.free[name]:
            names.add(inner)
            if inner in given.free:
                pending.append(inner)
    figures = FIGURES_NAME in names
    return names - given.names - {FIGURES_NAME}, figures


def _literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _bindings(tree: ast.AST) -> list[str]:
    """Every binding of a name in ``tree``, once per occurrence."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.append(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.alias):
            names.append((node.asname or node.name).split(".")[0])
    return names


def given_of(notebook) -> Given:
    """The ``Given`` of a source notebook: the imports, functions and classes of its locked cells (neither answers
    nor tests), and the literal constants its instructor wrote outside the solutions of any code cell
    (``ACCURACY_GOAL = 0.93``) whose names are bound nowhere else in the notebook."""
    kept: list[ast.stmt] = []
    literals: dict[str, ast.stmt] = {}
    bindings: Counter[str] = Counter()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        meta = nbgrader_metadata(cell)
        try:
            everything = ast.parse(cell.source)
            outside = ast.parse(SOLUTION.sub("", cell.source)) if meta.get("solution") else everything
        except SyntaxError:
            continue
        bindings.update(_bindings(everything))
        for statement in outside.body:
            if (isinstance(statement, ast.Assign) and all(isinstance(t, ast.Name) for t in statement.targets)
                    and _literal(statement.value)):
                literals.update({target.id: statement for target in statement.targets})
        if not meta.get("solution") and not meta.get("grade") and meta.get("locked"):
            kept.extend(s for s in everything.body if isinstance(s, (ast.Import, ast.ImportFrom, *_DEFINITIONS)))
    defined = _top_level_names(kept)
    constants = {name: s for name, s in literals.items() if bindings[name] == 1 and name not in defined}
    kept.extend(dict.fromkeys(constants.values()))  # one statement may bind several names
    names = frozenset(defined | set(constants))
    free = {s.name: frozenset(free_names(s) - names) for s in kept if isinstance(s, _DEFINITIONS)}
    return Given(code=ast.unparse(ast.Module(body=kept, type_ignores=[])), names=names, free=free)


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _top_level_names(statements: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for s in statements:
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in s.names if a.name != "*"}
        elif isinstance(s, _DEFINITIONS):
            names.add(s.name)
    return names


def plain_tests(notebook, calls_checks) -> list[PlainTest]:
    """The plain hidden tests of a source notebook: every graded code cell that is not an answer and whose hidden
    block does not call checks the older way (``calls_checks(source)`` true).  A cell whose code does not parse,
    or whose grade id could not name a folder, raises ``ValueError`` naming it (the instructor's notebook)."""
    given = given_of(notebook)
    tests = []
    for cell in notebook.cells:
        meta = nbgrader_metadata(cell)
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        if calls_checks(cell.source):
            continue
        grade_id = str(meta.get("grade_id", ""))
        if not _GRADE_ID.match(grade_id):
            raise ValueError(f"grade_id {grade_id!r}: letters, digits, _ and - only (it names the evidence folder)")
        blocks = HIDDEN.findall(cell.source)
        code = "\n".join(blocks) if blocks else cell.source
        try:
            reads, figures = reads_of(code, given)
        except SyntaxError as e:
            raise ValueError(f"{grade_id} の隠しテストが Python として読めません / the hidden test of {grade_id} does "
                             f"not parse: {e}") from None
        tests.append(PlainTest(grade_id, code, tuple(sorted(reads)), figures, whole_cell=not blocks))
    return tests


def for_kernel(source: str, test: PlainTest) -> str:
    """What the kernel runs of ``test``'s cell: its hidden block replaced by the collecting of what the block reads
    (kept between the hidden-test marks, which feedback strips); a cell without a hidden block runs as written after
    the collecting."""
    call = (f'__import__("autograder.grading.kernel.evidence", fromlist=["collect_for"]).collect_for('
            f'globals(), {test.key!r}, {test.reads!r}, figures={test.figures!r})\n')
    block = f"### BEGIN HIDDEN TESTS\n{call}### END HIDDEN TESTS\n"
    if test.whole_cell:
        return block + source
    return HIDDEN.sub(lambda _: block, source, count=1)


def modules_imported(tests: list[PlainTest], given: Given) -> list[str]:
    """The modules the tests (and the locked cells' imports) import: imported ahead in the grading process."""
    modules: set[str] = set()
    for code in [t.code for t in tests] + [given.code]:
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                modules |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module)
    return sorted(modules)


def judge(test: PlainTest, given: Given, values: dict, *, check_failed: type) -> tuple[str, str, bool] | None:
    """Run ``test`` on ``values`` (the namespace rebuilt from its evidence); None if it passes, else
    ``(exception name, message, the instructor's error)``.

    ``check_failed``: the engine's failed-check type (``NotAttempted`` is one).  The third item
    is true when the test itself failed (any exception but a failed assert or check, a ``NameError`` on a name
    the notebook never made): the message then is the instructor's, bilingual, with the test's traceback.
    """
    namespace: dict = {"__builtins__": builtins, "__name__": "__hidden_test__"}
    try:
        exec(compile(given.code, "<ノートブックの固定セル / the notebook's locked cells>", "exec"), namespace)  # noqa: S102
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 -- the instructor's notebook: its failure here is theirs, reported
        return (type(e).__name__, f"ノートブックの固定セルの import・関数・定数を採点側で実行できません / the notebook's locked "
                f"cells (imports, functions, constants) do not run in the grading process: {type(e).__name__}: {e}\n"
                f"{_traceback(e)}", True)
    from autograder.grading.kernel.evidence import FIGURES

    for name in test.reads:
        if name in values:
            namespace[name] = values[name]
    if test.figures:
        namespace[FIGURES_NAME] = list(values.get(FIGURES, []))
    filename = f"<{test.grade_id} の隠しテスト / hidden test>"
    try:
        exec(compile(test.code, filename, "exec"), namespace)  # noqa: S102 -- the instructor's source notebook
    except check_failed as e:  # a library's failed check (NotAttempted is one)
        return type(e).__name__, str(e), False
    except AssertionError as e:
        return "CheckFailed", str(e).strip() or FAILED, False
    except NameError as e:
        name = getattr(e, "name", None)
        if name in test.reads:
            return ("NotAttempted", f"変数 {name} がありません。この問題までのセルを書いて、上から順にエラーなく"
                    "実行しましたか？", False)
        return type(e).__name__, _instructor(test, e), True
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 -- the test itself failed: the instructor's error, never a student's 0
        if type(e).__name__ == "ResourceExhaustedError":
            raise MemoryError(str(e)[:300]) from e
        if unreadable := _unreadable(e, test, values):
            return "CheckFailed", unreadable, False
        return type(e).__name__, _instructor(test, e), True
    return None


def _traceback(e: BaseException) -> str:
    return "".join(traceback.format_exception(e))[-1500:]


def _instructor(test: PlainTest, e: BaseException) -> str:
    return (f"{test.grade_id} の隠しテストが {type(e).__name__} で止まりました。テストの誤りか、テストが想定していない学生の値です"
            f"（assert で確かめてから使いましょう）。学生の点にはしていません / the hidden test of {test.grade_id} raised "
            f"{type(e).__name__}: {str(e)[:300]} (a bug in the test, or a student's value it did not expect: check it "
            f"with an assert first); no grade was recorded\n{_traceback(e)}")


def _unreadable(e: Exception, test: PlainTest, values: dict) -> str | None:
    """The student's message when the test tripped over a value the grading process could not read as what it is
    (a model Keras cannot save and reload, an object that is not data): ``AttributeError``/``TypeError`` naming the
    stand-in's type."""
    from autograder.grading.verdicts import Opaque

    if not isinstance(e, (AttributeError, TypeError)):
        return None
    for name in test.reads:
        value = values.get(name)
        if isinstance(value, Opaque) and f"'{type(value).__name__}'" in str(e):
            return (f"変数 {name} を採点側で読み取れませんでした（{type(value).__name__}: {value!r}）。"
                    "問題文のとおりの種類の値（Keras のモデル、NumPy の配列、数など）になっているか確かめましょう。"
                    "activation=tf.nn.softmax のような関数や自作の層は、activation='softmax' のように名前で書きましょう。")
    return None
