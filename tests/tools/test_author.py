"""The author's loop (`python -m autograder examples ID`) on made-up grading results; the real batches are graded by
tests/checks/test_grading.py and test_variants.py through the same ``grade_examples``."""
from __future__ import annotations

import pytest

from autograder.cli import main
from autograder.course.results import CheckResult, Status, SubmissionResult
from autograder.tools import author
from autograder.tools.author import Example, Kind, examples_of, judge, table
from autograder.tools.examples import assignments, mistakes, variants


def _result(student_id: str, lost: dict[str, str] = {}, *, status=Status.GRADED, message="", errors={}) -> SubmissionResult:  # noqa: B006
    """A graded result of three 5-point checks q1..q3 losing ``lost`` (grade_id → message), a manual answer pending."""
    checks = [CheckResult(g, 0 if g in lost else 5, 5, lost.get(g), error=errors.get(g, "CheckFailed" if g in lost else None))
              for g in ("q1", "q2", "q3")] + [CheckResult("q4_free", None, 5, manual=True)]
    return SubmissionResult(student_id, status, message, score=sum(c.points or 0 for c in checks), max_score=20,
                            checks=checks)


MISTAKE = Example("no_legend", Kind.MISTAKE, ("no_legend",), frozenset({"q2"}), "凡例")
VARIANTS = Example("variants1", Kind.VARIANTS, ("acc_metric", "positional_fit"))
SOLUTION = Example("_solution", Kind.SOLUTION)
RELEASE = Example("_release", Kind.RELEASE)


def test_each_example_is_judged_against_what_it_must_get():
    """Full marks for the solution and the variants, exactly its checks and its words for a mistake, 0 and no grader
    error for the release: does each get OK only then, and NG with what it got otherwise?"""
    assert judge(SOLUTION, _result("_solution")).ok
    assert judge(MISTAKE, _result("no_legend", {"q2": "凡例を付けましょう"})).ok
    assert judge(RELEASE, _result("_release", dict.fromkeys(("q1", "q2", "q3"), "まだ"),
                                  errors=dict.fromkeys(("q1", "q2", "q3"), "NotAttempted"))).ok

    wrong = {
        "a mistake losing one check too many": judge(MISTAKE, _result("no_legend", {"q2": "凡例", "q3": "x"})),
        "a mistake losing nothing": judge(MISTAKE, _result("no_legend")),
        "a mistake with another message": judge(MISTAKE, _result("no_legend", {"q2": "ラベルがありません"})),
        "a variant losing a check": judge(VARIANTS, _result("variants1", {"q1": "Dense"})),
        "a solution the grader failed on": judge(SOLUTION, _result("_solution", status=Status.ERROR,
                                                                   message="採点環境の誤り / toolkit error\ndetail")),
        "a release scoring": judge(RELEASE, _result("_release", {"q1": "x", "q2": "y"})),
        "a release with a grader error": judge(RELEASE, _result("_release", dict.fromkeys(("q1", "q2", "q3"), "x"),
                                                                errors={"q1": "TypeError"})),
    }
    assert [case for case, outcome in wrong.items() if outcome.ok] == []
    assert wrong["a mistake losing one check too many"].got.startswith("q2, q3 を失う")
    assert wrong["a mistake losing nothing"].got == author.FULL_MARKS
    assert "凡例" in wrong["a mistake with another message"].got
    assert wrong["a solution the grader failed on"].got == "error: 採点環境の誤り / toolkit error"
    assert "5 点" in wrong["a release scoring"].got and "q1" in wrong["a release with a grader error"].got


def test_the_table_has_a_line_per_example_and_variant():
    """Does the table show every example (each variant on its own line, with its notebook), OK/NG, and a verdict?"""
    outcomes = [judge(SOLUTION, _result("_solution")), judge(MISTAKE, _result("no_legend", {"q2": "凡例がない"})),
                judge(VARIANTS, _result("variants1", {"q1": "Dense"}))]
    lines = table(outcomes).splitlines()
    assert len(lines) == 1 + 1 + 1 + 2 + 1
    assert lines[1].startswith("解答 / solution") and lines[1].endswith("OK")
    assert "mistake no_legend" in lines[2] and "q2 を失う" in lines[2] and lines[2].endswith("OK")
    assert [line.split()[1] for line in lines[3:5]] == ["acc_metric", "positional_fit"]
    assert all("(variants1)" in line and "q1 を失う" in line and line.endswith("NG") for line in lines[3:5])
    assert lines[-1].startswith("1 件") and "1 of 3" in lines[-1]
    widths = {author._width(line[:line.index("満点") if "満点" in line else line.index("q")]) for line in lines[1:3]}
    assert len(widths) == 1  # the expected column starts at one place, Japanese labels counted two columns a character
    assert table(outcomes[:2]).splitlines()[-1].startswith("すべて宣言どおり")


@pytest.mark.parametrize("assignment_id", assignments())
def test_every_example_of_an_assignment_is_in_the_batch(course, assignment_id):
    """Does the batch hold the solution, the release, each mistake once and each variant in exactly one notebook?"""
    made = examples_of(course.assignment(assignment_id))
    assert [e.kind for e in made[:2]] == [Kind.SOLUTION, Kind.RELEASE]
    assert [e.names[0] for e in made if e.kind == Kind.MISTAKE] == [m.name for m in mistakes(assignment_id)]
    packed = [name for e in made if e.kind == Kind.VARIANTS for name in e.names]
    assert sorted(packed) == sorted(v.name for v in variants(assignment_id))
    assert len({e.student_id for e in made}) == len(made)
    solution = made[0].notebook
    assert all(e.notebook != solution for e in made[1:])  # every example differs from the solution


def test_the_command_fails_when_an_example_misbehaves(course, monkeypatch, capsys):
    """Does `python -m autograder examples` print the table and exit 1 on an NG, 0 when all behave?"""
    good = [judge(SOLUTION, _result("_solution"))]
    bad = good + [judge(MISTAKE, _result("no_legend"))]
    for outcomes, code in ((good, 0), (bad, 1)):
        monkeypatch.setattr(author, "try_examples", lambda assignment, workers=None, o=outcomes: o)
        assert main(["examples", "kadai5"]) == code
        assert "解答 / solution" in capsys.readouterr().out


def test_variants_pack_into_few_notebooks_each_on_its_own_questions_where_it_can(course):
    """Does a variant join a notebook free of its cells first, else one where the edits still apply together (none
    rewriting another's), else start one; and is a variant that no longer applies refused?"""
    from autograder.checks.kit import Variant
    from autograder.tools.examples import filled_in, pack_variants

    solution = filled_in(course.source_notebook("kadai5"), course.release_notebook("kadai5"))
    mean, std = "mean = x_train_raw.mean(axis=0)", "std = x_train_raw.std(axis=0)"
    made = {
        "mean_a": ("q1_code", mean, mean + "  # a"),
        "loss_b": ("q2_code", "loss='binary_crossentropy'", "loss=keras.losses.BinaryCrossentropy()"),
        "std_c": ("q1_code", std, "std = np.std(x_train_raw, axis=0)"),        # q1's other line: beside mean_a
        "mean_d": ("q1_code", mean, "mean = np.mean(x_train_raw, axis=0)"),   # mean_a's line: a notebook of its own
        "metric_e": ("q2_code", "metrics=['accuracy']", "metrics=['acc']"),  # the free notebook before sharing
        "mean_f": ("q1_code", "x_train_raw.mean(axis=0)", "x_train_raw.mean(0)"),  # would rewrite mean_a's line too
    }
    packed = pack_variants(solution, tuple(Variant(name, name, (edit,)) for name, edit in made.items()))
    assert [[v.name for v in group] for group in packed] == [["mean_a", "loss_b", "std_c"], ["mean_d", "metric_e"],
                                                              ["mean_f"]]
    with pytest.raises(ValueError, match="stale"):
        pack_variants(solution, (Variant("stale", "", (("q1_code", "x_train_raw.median()", "x"),)),))
