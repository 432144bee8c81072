"""``python -m autograder``: parses arguments and calls the library; no grading logic lives here."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.course import load_course
from autograder.course.results import SubmissionResult
from autograder.errors import AutograderError


def _print_results(results: list[SubmissionResult]) -> None:
    for r in results:
        print(f"{r.student_id:<20} {r.status:<10} {r.score:>5g}/{r.max_score:<5g} {r.seconds:6.1f}s  {r.message}")


def cmd_data(args) -> int:
    from autograder.grading.data import ensure_fashion_mnist

    course = load_course(args.course_dir)
    report = ensure_fashion_mnist(course.config.data_dir, download=not args.no_download)
    print(f"Fashion-MNIST: {report.cache_dir} ({report.source})")
    return 0


def cmd_prove(args) -> int:
    from autograder.tools.prove import prove

    proof = prove(load_course(args.course_dir).assignment(args.assignment))
    for name, result in (("解答 solution", proof.solution), ("配布版 release", proof.release)):
        if result is not None:
            print(f"{name}: {result.status} {result.score:g}/{result.max_score:g} ({result.seconds:.0f}s)")
    if proof.ok:
        print(f"{args.assignment}: 証明できました / proved")
        return 0
    print("問題 / problems:\n- " + "\n- ".join(proof.problems), file=sys.stderr)
    return 1


def cmd_release(args) -> int:
    from autograder.tools.prove import release

    path, proof = release(load_course(args.course_dir).assignment(args.assignment), skip_proof=args.skip_proof)
    if proof is None:
        print("注意: 証明を省略しました / warning: proof skipped")
    elif proof.proven_at:
        print(f"同じ内容が {proof.proven_at} に証明済みなので、証明し直しません / "
              f"these inputs passed prove at {proof.proven_at}: not proving again")
    print(f"配布版を書きました / wrote {path}")
    return 0


def cmd_new(args) -> int:
    from autograder.tools.scaffold import new_assignment

    paths = new_assignment(load_course(args.course_dir), args.assignment, template=args.template, title=args.title)
    print("書きました / wrote:\n" + "\n".join(f"- {path}" for path in paths))
    print(f"次は / next: python -m autograder examples {args.assignment} → prove → release "
          "(docs/writing-an-assignment.md)")
    return 0


def cmd_assignments(args) -> int:
    for assignment in load_course(args.course_dir).config.assignments:
        print(assignment.id)
    return 0


def cmd_examples(args) -> int:
    from autograder.tools.author import table, try_examples

    outcomes = try_examples(load_course(args.course_dir).assignment(args.assignment), workers=args.workers)
    print(table(outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


def cmd_grade(args) -> int:
    from autograder.grading.grade import grade

    results = grade(load_course(args.course_dir), args.assignment, [args.student] if args.student else None,
                    workers=args.workers, scheduler=args.scheduler, force=args.force)
    _print_results(results)
    return 0


def cmd_export(args) -> int:
    from autograder.tools.export import export_grades

    results = export_grades(load_course(args.course_dir).assignment(args.assignment), Path(args.out))
    print(f"{len(results)} 行を書きました / wrote {len(results)} rows to {args.out}")
    return 0


def cmd_collect(args) -> int:
    from autograder.tools.intake import LATE_IGNORED, PROBLEM, SUPERSEDED, collect

    intake = collect(load_course(args.course_dir).assignment(args.assignment), Path(args.download),
                     roster=Path(args.roster) if args.roster else None)
    for upload in intake.filed:
        late = "  締め切り後 / LATE" if upload.late else ""
        print(f"提出 / filed       {upload.student_id:<12} {upload.submitted_at:%Y-%m-%d %H:%M}  {upload.source}{late}")
    for outcome, label in ((SUPERSEDED, "古い提出 / older"), (LATE_IGNORED, "遅れ・無視 / late, ignored")):
        for upload in intake.of(outcome):
            print(f"{label:<17} {upload.student_id:<12} {upload.source}: {upload.reason}")
    problems = intake.of(PROBLEM)
    if problems:
        print(f"\n取り込めなかったファイル / not filed ({len(problems)}):", file=sys.stderr)
        for upload in problems:
            print(f"- {upload.source}: {upload.reason}", file=sys.stderr)
    print(f"\n{len(intake.filed)} 人分を submitted/ に置きました（{sum(u.late for u in intake.filed)} 人は締め切り後） / "
          f"filed {len(intake.filed)} students; log: logs/collect-{args.assignment}.csv")
    return 1 if problems else 0


def cmd_feedback(args) -> int:
    from autograder.tools.feedback import feedback_pages
    from autograder.tools.feedback_child import PAGE_SECONDS

    written = 0
    for student_id, _, why in feedback_pages(load_course(args.course_dir).assignment(args.assignment),
                                             [args.student] if args.student else None, page_seconds=PAGE_SECONDS):
        written += 1
        if why is not None:
            print(f"- {student_id}: 簡単な形のページにしました（ノートブックなし） / plain page (no notebook): {why}",
                  file=sys.stderr)
    print(f"{written} 人分のフィードバックを書きました / wrote {written} feedback pages under feedback/")
    return 0


def cmd_report(args) -> int:
    from autograder.tools.report import write_report

    path = write_report(load_course(args.course_dir).assignment(args.assignment), Path(args.out) if args.out else None)
    print(f"クラスのレポート / class report: {path}")
    return 0


def cmd_solutions(args) -> int:
    from autograder.tools.solutions import write_solutions

    path = write_solutions(load_course(args.course_dir).assignment(args.assignment), force=args.force)
    print(f"正解を書きました / wrote {path} and {path.with_suffix('.html').name}")
    return 0


def cmd_manual(args) -> int:
    from autograder.tools import manual

    course = load_course(args.course_dir)
    if args.export:
        rows = manual.export_answers(course.assignment(args.assignment), Path(args.export))
        print(f"{rows} 件の答えを書きました / wrote {rows} answers to {args.export}")
    elif args.import_csv:
        rows = manual.import_answers(course.assignment(args.assignment), Path(args.import_csv))
        print(f"{rows} 件の採点を下書きとして保存しました（--publish で学生に公開） / stored {rows} grades as drafts "
              f"(--publish sends them to the students)")
    if args.override or args.extra_credit:
        _score_change(course, args)
    elif args.reason:
        raise manual.ManualGradeError("--reason は --override か --extra-credit と使います / --reason goes with "
                                      "--override or --extra-credit")
    if args.question and not args.publish:
        raise manual.ManualGradeError("--question は --publish と使います / --question goes with --publish")
    if args.publish:
        published = manual.publish(course.assignment(args.assignment), args.question,
                                   journal=_portal_journal(course, args.assignment))
        _rescore_portal(course, args.assignment, [s for s, _ in published])
        print(f"{len(published)} 件の採点を公開しました / published {len(published)} grades")
    for grade_id, progress in manual.progress(course.assignment(args.assignment)).items():
        print(f"{grade_id}: 採点済み / graded {progress.graded} / {progress.total}, "
              f"未公開 / unpublished {progress.unpublished}")
    return 0


def _score_change(course, args) -> None:
    """``manual --override`` / ``--extra-credit``: one cell's score or extra credit with its reason, journalled in the
    portal's database (made if the course has none yet: every such change is recorded), the portal's score updated."""
    from datetime import UTC, datetime

    from autograder.portal import private
    from autograder.portal.manual_pages import rescore
    from autograder.portal.regrades import command_line_user
    from autograder.portal.score_pages import score_journal
    from autograder.portal.store import Store
    from autograder.tools import overrides

    student_id, grade_id, raw = args.override or args.extra_credit
    try:
        points = None if raw.strip().lower() in ("", "none", "auto") else float(raw)
    except ValueError:
        raise overrides.ManualGradeError(f"点数 {raw!r} が数ではありません / points {raw!r} is not a number") from None
    store = Store(private.database_url(course))
    write = overrides.override if args.override else overrides.extra_credit
    done = write(course.assignment(args.assignment), student_id, grade_id, points, args.reason or "",
                 journal=score_journal(store, command_line_user(), lambda: datetime.now(UTC), args.assignment))
    if done is None:
        print("変わっていません / nothing changed")
        return
    rescore(store, course, args.assignment, [student_id])
    what = "点数の上書き / override" if args.override else "加点 / extra credit"
    print(f"{student_id} の {grade_id} の{what}: {'なし / none' if done.before is None else f'{done.before:g}'} → "
          f"{'なし / none' if done.after is None else f'{done.after:g}'}（理由 / reason: {done.reason}）")


def _portal_journal(course, assignment_id: str):
    """The portal's log of published grade changes as ``manual.publish``'s journal, if the course has a portal
    database (else None: no portal, no log, and no regrade requests either)."""
    from autograder.portal import private

    if not (course.config.portal_db_url or (course.root / private.FOLDER / "portal.db").is_file()):
        return None
    from datetime import UTC, datetime

    from autograder.portal.regrades import command_line_user, journal
    from autograder.portal.store import Store

    return journal(Store(private.database_url(course)), command_line_user(), lambda: datetime.now(UTC), assignment_id)


def _rescore_portal(course, assignment_id: str, students: list[str]) -> None:
    """The portal's shown scores of ``students`` made the published totals, if the course has a portal database."""
    from autograder.portal import private

    if not students or not (course.config.portal_db_url or (course.root / private.FOLDER / "portal.db").is_file()):
        return  # no portal: nothing shows a score but the gradebook
    from autograder.portal.manual_pages import rescore
    from autograder.portal.store import Store

    rescore(Store(private.database_url(course)), course, assignment_id, students)


def cmd_extensions(args) -> int:
    from zoneinfo import ZoneInfo

    from autograder.course import extensions

    course = load_course(args.course_dir)
    if args.csv:
        known = _known_students(course)  # a typo'd id extends no one silently; a course with none yet checks none
        count = extensions.import_extensions(course, Path(args.csv).read_text(encoding="utf-8-sig"),
                                             students=known or None)
        if not known:
            print("学生がまだ一人も登録されていないため、学籍番号は確かめていません (accounts または collect の後なら確かめます) / "
                  "no student is known yet (no roster, no submission): the ids were not checked", file=sys.stderr)
        print(f"{count} 件の延長を入れました / recorded {count} extensions in {extensions.FILE}")
    zone = ZoneInfo(course.config.timezone)
    for (student_id, assignment_id), due in sorted(extensions.read_extensions(course).items()):
        print(f"{student_id:<12} {assignment_id:<10} {due.astimezone(zone):%Y-%m-%d %H:%M}")
    return 0


def _known_students(course) -> set[str]:
    """Every student id the course knows: nbgrader's gradebook (``accounts`` and ``collect --roster`` put the roster
    there), the portal's student accounts, and the folders under ``submitted/``."""
    from autograder.portal import private

    known = set(course.student_ids())
    if course.config.db_url or (course.root / "gradebook.db").is_file():  # reading never creates a gradebook
        known |= set(course.student_names())
    if course.config.portal_db_url or (course.root / private.FOLDER / "portal.db").is_file():
        from autograder.portal.store import Store

        known |= {user.user_id for user in Store(private.database_url(course)).students()}
    return known


def cmd_accounts(args) -> int:
    """A roster's accounts (names into the gradebook; the accounts it no longer lists ended unless ``--keep``) and
    ``--grader`` accounts (which leave every other account as it is: a run with graders alone ends nothing)."""
    from autograder.portal import private
    from autograder.portal.store import (INSTRUCTOR, STUDENT, Store, end_unlisted, import_roster, issue_graders,
                                         write_credentials)

    if not args.roster and not args.grader:
        raise AutograderError("名簿（roster.csv）か --grader ID を指定してください / give a roster CSV or --grader ID")
    course = load_course(args.course_dir)
    store = Store(private.database_url(course))
    issued = import_roster(store, Path(args.roster), instructor=args.instructor) if args.roster else []
    course.record_names({user_id: name for user_id, name, role, _ in issued if role == STUDENT})  # into the gradebook
    try:
        issued += issue_graders(store, args.grader or [])
    except ValueError as e:
        raise AutograderError(f"{e} は学生か先生のアカウントか、使えない名前です / {e} is a student's or the "
                              f"instructor's account, or not a usable id") from None
    out = Path(args.out) if args.out else private.credentials_path(course)
    write_credentials(issued, out)
    print(f"{len(issued)} 人分のアカウントを作りました。パスワードは {out} にだけあります（配ったら消してください） / "
          f"created {len(issued)} accounts; the passwords are only in {out}")
    if args.keep or not args.roster:
        return 0
    ended = end_unlisted(store, issued)
    if ended:
        names = ", ".join(f"{user.user_id} ({'先生 / instructor' if user.role == INSTRUCTOR else '学生 / student'})"
                          for user in ended)
        print(f"名簿にないアカウント {len(ended)} 件を終了し、サインインも取り消しました / ended {len(ended)} accounts "
              f"the roster no longer lists, and signed them out: {names}")
    return 0


def cmd_serve(args) -> int:
    """The web first, answering within seconds; the gradebook, the canary and the pool warm up behind it
    (``GradingQueue.warm_up``) while uploads wait in line.  A warm-up step that fails stops the server with that
    step's error (and exit code), as when those steps ran before the web; the uploads taken stay queued."""
    import threading

    from waitress.server import create_server

    from autograder.portal import isolation
    from autograder.portal.app import create_app

    course = load_course(args.course_dir)
    scheduler = args.scheduler or course.config.scheduler
    isolated = isolation.require(course, unsafe_no_sandbox=args.unsafe_no_sandbox, scheduler=scheduler)  # NoSandbox: 3
    if not isolated:
        print("!" * 78 + "\n警告: 隔離なしで採点します (--unsafe-no-sandbox) / WARNING: grading WITHOUT the sandbox; "
              "the portal's files are hidden from graded code, the rest of this machine is not\n" + "!" * 78, flush=True)
    app = create_app(course, isolated=isolated, workers=args.workers, scheduler=scheduler, start_queue=False)
    queue = app.extensions["autograder"]["queue"]
    if args.regrade_errors:
        queued = app.extensions["autograder"]["store"].regrade_errors()
        print(f"採点できなかった提出 {len(queued)} 件を採点し直します / {len(queued)} uploads whose grading failed "
              "queued again", flush=True)
    server = create_server(app, host=args.host, port=args.port, threads=8)
    stopped, failures = threading.Event(), []

    def give_up(error: BaseException) -> None:
        failures.append(error)
        stopped.set()

    threading.Thread(target=server.run, name="web", daemon=True).start()
    print(f"ポータル / portal: http://{args.host}:{server.effective_port}/  (Ctrl-C で停止 / to stop)\n"
          "採点の準備が終わるまで、提出は列で待ちます / uploads wait in line until grading is ready", flush=True)
    queue.start(warm_up=True, say=lambda line: print(line, flush=True), on_failure=give_up)
    try:
        while not stopped.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        queue.stop()
    if failures:
        print("ポータルを止めました（受け付けた提出は次の起動で採点します） / the portal stopped; the uploads taken are "
              "graded at the next start", file=sys.stderr, flush=True)
        raise failures[0]  # an AutograderError: its message and exit code (main); anything else: its traceback
    return 0


def cmd_demo(args) -> int:
    from autograder.tools.demo import run_demo

    return run_demo(load_course(args.course_dir), Path(args.out))


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course-dir", default=".", metavar="DIR",
                        help="course folder holding course_config.py (default: the current folder)")
    # After the command, --course-dir must not reset one given before it to the default (argparse's sub-parser
    # defaults win over the main parser's values): there it has no default of its own.
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--course-dir", default=argparse.SUPPRESS, metavar="DIR",
                       help="course folder holding course_config.py (default: the current folder)")
    parser = argparse.ArgumentParser(prog="python -m autograder", parents=[common],
                                     description="Autograded Keras notebooks on nbgrader (医療とAI・ビッグデータ応用)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, func, help_text):
        p = sub.add_parser(name, parents=[after], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = command("data", cmd_data, "put Fashion-MNIST into Keras's cache (local copy, Debian package, or download)")
    p.add_argument("--no-download", action="store_true", help="only copy from a local folder, never download")
    p = command("prove", cmd_prove, "grade the solution (must be full marks) and the untouched release (must be 0)")
    p.add_argument("assignment", help="assignment id, e.g. kadai4")
    p = command("release", cmd_release, "prove, then write release/ASSIGNMENT/ASSIGNMENT.ipynb through nbgrader")
    p.add_argument("assignment", help="assignment id, e.g. kadai4")
    p.add_argument("--skip-proof", action="store_true", help="write the release without proving it first")
    p = command("new", cmd_new, "write a new assignment's source notebook, its checks folder with example stubs, and "
                                "its course_config entry (blank, or a copy of another assignment)")
    p.add_argument("assignment", help="the new assignment's id, e.g. kadai7")
    p.add_argument("--from", dest="template", metavar="ID", help="copy this assignment whole under the new id")
    p.add_argument("--title", help="the title students see (default: 課題N for an id kadaiN)")
    command("assignments", cmd_assignments, "print the id of every assignment of course_config, one a line, in course order")
    p = command("examples", cmd_examples,
                "grade the solution, the untouched release, the typical mistakes and the variants in one batch and "
                "show which behave as declared (exit 1 if any does not)")
    p.add_argument("assignment", help="assignment id, e.g. kadai4")
    p.add_argument("--workers", type=int, metavar="N",
                   help="notebooks graded at once (default: course_config, else one per core)")
    p = command("grade", cmd_grade, "grade submitted/STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb for every student (or one)")
    p.add_argument("assignment", help="assignment id, e.g. kadai4")
    p.add_argument("--student", metavar="ID", help="grade only this student")
    p.add_argument("--workers", type=int, metavar="N",
                   help="submissions graded at once on a local Dask cluster (default: course_config, else one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="grade on an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (workers need this toolkit installed)")
    p.add_argument("--force", action="store_true",
                   help="grade again even submissions unchanged since they were last graded")
    p = command("export", cmd_export, "write the grades CSV: one row per student folder, one column per graded cell")
    p.add_argument("assignment", help="assignment id, e.g. kadai4")
    p.add_argument("--out", default="grades.csv", help="CSV file to write (default: grades.csv)")
    p = command("collect", cmd_collect,
                "file an LMS bulk download (.zip or folder) as submitted/STUDENT/ASSIGNMENT/, latest upload before the due date")
    p.add_argument("assignment", help="assignment id, e.g. kadai4")
    p.add_argument("download", help="the LMS's bulk download: a .zip file or a folder")
    p.add_argument("--roster", metavar="CSV", help="class roster with columns student_id,name (default: course_config's roster)")
    p = command("feedback", cmd_feedback, "write one Japanese feedback page per student under feedback/ (no hidden tests)")
    p.add_argument("assignment", help="assignment id, e.g. kadai4")
    p.add_argument("--student", metavar="ID", help="only this student")
    p = command("report", cmd_report, "write the class report (plots, checks, failures, similar submissions) as HTML")
    p.add_argument("assignment", help="assignment id, e.g. kadai4")
    p.add_argument("--out", metavar="FILE", help="HTML file to write (default: reports/ASSIGNMENT.html)")
    p = command("solutions", cmd_solutions, "after the due date: run the answer notebook and write solutions/ASSIGNMENT/")
    p.add_argument("assignment", help="assignment id, e.g. kadai4")
    p.add_argument("--force", action="store_true", help="write the answers even before the due date")
    p = command("manual", cmd_manual, "grade the written answers through a CSV (--export, --import: drafts) and "
                "--publish them to the students; --override an automatic cell's score or give --extra-credit")
    p.add_argument("assignment", help="assignment id, e.g. kadai4")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--export", metavar="CSV", help="write every answer to grade by hand, with its points and comment so far")
    which.add_argument("--import", dest="import_csv", metavar="CSV",
                       help="store the items, points and comments of such a CSV as drafts (all rows or none)")
    p.add_argument("--publish", action="store_true",
                   help="publish the drafts: the students' pages, scores and export show them")
    p.add_argument("--question", metavar="ID", help="with --publish: only this question (its grade_id)")
    which.add_argument("--override", nargs=3, metavar=("STUDENT", "CELL", "POINTS"),
                       help="set an automatic cell's score (0 … its points; 'auto': the automatic score again), with "
                            "--reason; the student sees it at once, and automatic regrading keeps it")
    which.add_argument("--extra-credit", nargs=3, metavar=("STUDENT", "CELL", "POINTS"),
                       help="give extra credit on a cell (0 … its points; 0 removes it), with --reason")
    p.add_argument("--reason", metavar="TEXT", help="with --override or --extra-credit: why (the student reads it)")
    p = command("extensions", cmd_extensions,
                "per-student extensions (a later due time; the portal, collect and the late policy use it): import a "
                "CSV, then list them all")
    p.add_argument("csv", nargs="?", help="CSV with columns student_id,assignment_id,due (due: 2027-05-30 23:59 in the "
                                          "course's time zone); all rows or none")
    p = command("accounts", cmd_accounts, "create portal accounts from a roster CSV (student_id,name) and the instructor's")
    p.add_argument("roster", nargs="?", help="CSV with columns student_id,name (UTF-8); optional with --grader")
    p.add_argument("--out", metavar="CSV",
                   help="CSV the new passwords are written to, mode 600 (default: portal/credentials.csv in the course)")
    p.add_argument("--instructor", default="instructor", metavar="ID", help="the instructor's user id (default: instructor)")
    p.add_argument("--keep", action="store_true",
                   help="keep the accounts the roster (and --instructor) no longer lists (default: end them and their sessions)")
    p.add_argument("--grader", action="append", metavar="ID",
                   help="a teaching assistant's account (repeatable): grades written answers as drafts and sees the "
                        "class page, nothing else of the instructor's; other accounts are left as they are")
    p = command("serve", cmd_serve, "run the submission portal: students upload, grading runs, feedback comes back")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="uploads graded at once on this machine (default: course_config's workers, else one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="grade on an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: course_config's); "
                        "its workers must pass the canary and have the full sandbox")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="grade uploads even where bubblewrap cannot isolate grading (as root: the portal's files are "
                        "hidden from graded code; the instructor's pages show it); refused otherwise")
    p.add_argument("--regrade-errors", action="store_true",
                   help="queue again, at start, every student's latest upload whose grading failed (after fixing why)")
    p = command("demo", cmd_demo, "release every assignment in a demo course, grade bundled example submissions, export grades")
    p.add_argument("--out", default="demo-course", help="folder of the demo course (default: demo-course)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; an ``AutograderError`` is printed (bilingual) and exits with its code, a bug shows its traceback."""
    import logging

    args = build_parser().parse_args(argv)
    if not logging.getLogger("autograder").handlers:  # warnings loud on the terminal, as they are, no prefix
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logging.getLogger("autograder").addHandler(handler)
    try:
        return args.func(args)
    except AutograderError as e:
        print(e, file=sys.stderr)
        return e.exit_code
