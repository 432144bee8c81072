"""What a student reads about their work, and the instructor's labels beside it: one home for the wording.

Two audiences, two texts.  A student reads Japanese that says what happened and what to do next, and never a
command, a path, an exception's name or a traceback of ours: when grading fails for a reason of ours (the grading
environment, the toolkit, a step the instructor has not taken), the student reads ``TROUBLE`` and nothing more.
The instructor reads the full detail, Japanese / English, on their page and on the terminal: that detail is the
``message`` kept with each result (``SubmissionResult.message``) and upload (the portal's ``uploads.message``), and
no student page shows it.

The statuses are ``autograder.course.results.Status``; the portal's upload states are
``autograder.portal.store.UploadState`` (keyed here by their stored values: the course model knows no portal).
"""
from __future__ import annotations

from autograder.course.results import Status

STATUS_LABELS = {Status.GRADED: "採点済み", Status.LATE: "締め切り後の提出", Status.INVALID: "読み込めない提出",
                 Status.MISSING: "提出なし", Status.ERROR: "採点できませんでした", Status.NOT_GRADED: "未採点"}
"""Each status as a student reads it (feedback pages)."""

INSTRUCTOR_STATUS_LABELS = {Status.GRADED: "採点済み", Status.LATE: "締め切り後", Status.INVALID: "無効",
                            Status.ERROR: "エラー", Status.MISSING: "ノートブックなし", Status.NOT_GRADED: "未採点"}
"""Each status as the instructor reads it (the class report), in the order the report lists them."""

STATUS_EXPLANATIONS = {
    Status.LATE: "締め切りを過ぎた提出は受け付けていません。この課題は 0 点です。",
    Status.INVALID: "提出されたファイルをノートブックとして読み込めませんでした（ファイルが壊れているか、.ipynb ではありません）。"
                    "採点できないため 0 点です。",
    Status.MISSING: "提出されたフォルダにノートブックがありませんでした。採点できないため 0 点です。",
    Status.ERROR: "採点の途中で問題が起きたため、採点できませんでした。先生が確認します。いまの得点は 0 点です。",
    Status.NOT_GRADED: "この提出はまだ採点していません。いまの得点は 0 点です。",
}
"""What happened to a submission that was not graded, for the student (the feedback page under its status)."""

UPLOAD_STATE_LABELS = {"queued": "採点待ち", "grading": "採点中", "graded": "採点済み", "error": "採点できませんでした",
                       "superseded": "新しい提出に置き換えられました"}
"""Each state of a portal upload (``UploadState``'s values) as the student and the instructor read it."""

TROUBLE = "採点の準備に問題がありました。先生に連絡済みです。しばらくしてから結果を見に来てください。"
"""A student's whole explanation of a grading that failed for a reason of ours; the detail is the instructor's."""

RAN_TOO_LONG = ("ノートブック全体の実行に時間がかかりすぎたため、採点を途中で打ち切りました。"
                "学習のエポック数や、くり返しの回数を見直してから、もう一度提出してください。")
"""The student's explanation of a notebook stopped far past the time limit: theirs to fix."""

FEEDBACK_PAGE_TROUBLE = ("採点は終わりましたが、アドバイスのページの準備に問題がありました。先生に連絡済みです。"
                         "しばらくしてから見に来てください。")
"""A graded upload whose feedback page could not be written (the score stands)."""

SUPERSEDED = "採点しません（あとの提出が採点されます）"
"""An upload replaced in line by the student's next one."""

PORTAL_NOTICES = {Status.LATE: STATUS_EXPLANATIONS[Status.LATE], Status.INVALID: STATUS_EXPLANATIONS[Status.INVALID]}
"""What the portal says of an upload settled without grading when no more specific text was kept with it.  Every
other status but ``graded`` reads ``TROUBLE``: in the portal the file is always there (the portal filed it)."""

WARMING_UP = ("サーバーを起動したところで、いま採点の準備をしています（数分かかります）。提出はいつもどおり受け付けていて、"
              "準備ができしだい、受け付けた順に採点します。このページは自動で更新されます。")
"""What every student reads while the portal's grading warms up after a start (the uploads wait in line)."""

WARMING_UP_PLACE = "採点の準備ができしだい採点します"
"""Beside a waiting upload's place in line while grading warms up (no estimate of the wait yet)."""

WARM_UP_STEPS = {
    "gradebook": "課題を成績簿に入れています / putting the assignments into the gradebook",
    "canary": "採点環境を点検しています / checking the grading environment (canary)",
    "pool": "採点のワーカーを起動しています / starting the grading workers",
}
"""Each step of the grading line's warm-up at start (``autograder.portal.queue.WarmUp``'s values), as the
instructor's page names it; uploads wait meanwhile."""

COLAB_DOWNLOAD = "「ファイル」→「ダウンロード」→「.ipynb をダウンロード」"
"""Colab's menu path to save a notebook as a file to upload."""

COLAB_CLEAR_OUTPUTS = "「編集」→「すべての出力をクリア」"
"""Colab's menu path to clear every output (a file too large to upload)."""


def upload_notice(state: str, status: str | None, notice: str | None = None) -> str | None:
    """What a student reads beside an upload's state in the portal, or None (a waiting upload: its place speaks).

    ``state`` and ``status`` as stored (``UploadState``, ``Status``); ``notice``: the student's text the queue kept
    with the upload (None for uploads from before it kept one: then the state and status decide).  A ``graded``
    upload shows its score, and a notice only if it has one."""
    if state == "superseded":
        return SUPERSEDED
    if state == "error":
        return notice or TROUBLE
    if state != "graded":
        return None
    if status == Status.GRADED:
        return notice
    return notice or PORTAL_NOTICES.get(status, TROUBLE)


# ---- the feedback page (autograder/tools/feedback.py): what a student reads about one graded notebook

FEEDBACK_PAGE_PLAIN = ("このページは点数と問ごとの結果だけの簡単な形です。あなたのノートブックの中身をページにする作業が"
                       "時間内に終わらなかったため、ノートブックは表示していません。採点には影響しません。"
                       "ノートブックの中身を見たいときは、とても長いセルや記号がたくさん続くセルがないか確かめて、"
                       "もう一度提出するか、先生に相談してください。")
"""The note on a student's plain feedback page: the page with their notebook could not be built within its time
limit (or failed); the points stand."""

FEEDBACK_LONG_CELL = ("このセルは長いため（{length:,} 文字）、書式を付けずに最初の {shown:,} 文字だけを表示しています。"
                      "採点には影響しません。")
"""Above a student's markdown (or a Markdown/HTML output) too long to render on a feedback page: shown as plain text."""

FEEDBACK_NOTEBOOK_NOTE = ("採点のときにあなたのノートブックを上から順に実行した結果です。"
                          "問題文と自己チェックのセルは配布したときの内容で表示しています。")
"""Under the heading of the notebook part of a feedback page."""

FEEDBACK_BACK_TO_PORTAL = "← 提出ページにもどる"
"""The link back to the portal at the top of a feedback page the portal serves."""

FEEDBACK_ERRORS_INTRO = ("あなたのセルでエラーが起きました。上のセルのエラーが、そのあとのセルのエラーや減点の原因に"
                         "なっていることがよくあります。いちばん上のエラーから直して、ノートブックを上から順に実行し直しましょう。")
"""Above the list of the student's cells that ended with an error."""

FEEDBACK_UNANSWERED = "まだ書かれていません（raise NotImplementedError() が残っています）"
"""What a list of errors says of an answer cell left as released (it raises NotImplementedError)."""

FEEDBACK_ERROR_NAMES = {"CellTimeoutError": "時間切れ", "DeadKernelError": "カーネルの停止"}
"""The grading kernel's own ends of a cell, named in Japanese where a student's cell is said to have failed."""

FEEDBACK_CHECK_ERROR_HINTS = {
    "CellTimeoutError": "このセルの実行が制限時間を超えたので止めました。学習のエポック数などを見直しましょう。",
    "DeadKernelError": "カーネル（Python）が途中で止まったので、ここは実行されませんでした。os._exit() や、"
                       "メモリを使いすぎる処理がないか確かめましょう。",
}
"""Why a graded cell that the grading kernel stopped lost its points (instead of the kernel's exception)."""

FEEDBACK_NO_VARIABLE_HINT = ("この問のセルより前でエラーが起きたか、変数が作られていません。"
                             "ノートブックを上から順にすべて実行して、エラーが出ないか確かめましょう。")
"""Under a graded cell that ended with a Python error of its own (a NameError …)."""

FEEDBACK_TEST_CELL_ERROR = "採点用のセルでエラーが起きました"
"""What a graded cell's error reads as, in the table and under the cell, when its exception is not Python's own."""

FEEDBACK_FIGURE_ALT = "ノートブックが描いた図"
"""The alternative text of every figure on a feedback page: read aloud by a screen reader, and without it nbconvert
warns on the terminal once per page."""

FEEDBACK_SEE_CELL = "セルを見る"
"""The link from a row of the table, or an error, to its cell further down the page."""

FEEDBACK_OVERRIDE = "先生がこの問の点数を {points} 点にしました。理由：{reason}"
"""Under a row whose automatic score the instructor overrode (``overrides.override``), with their reason."""

FEEDBACK_EXTRA_CREDIT = "先生からこの問に {points} 点の加点があります。理由：{reason}"
"""Under a row with extra credit (``overrides.extra_credit``), with the instructor's reason."""

FEEDBACK_EXTRA_POINTS = "（加点 +{points}）"
"""After a row's points when it has extra credit: 「1 / 2（加点 +1）」."""


def feedback_cell_error(where: str, what: str, line: int | None) -> str:
    """An error of a student's cell as the feedback page lists it: 「問3 のセル（TypeError、3行目）」."""
    return f"{where} のセル（{what}、{line}行目）" if line else f"{where} のセル（{what}）"


def feedback_blocked(where: str, what: str, line: int | None, *, unanswered: bool, same_question: bool) -> str:
    """Why a check lost its points to a student's cell above it that raised (``what``: the exception's name, ``line``
    its line in the cell) or was left unanswered: said for sure of the question's own cell, as likely of an earlier one.
    「問3 のセルでエラー（TypeError、3行目）が起きたため、この問題は採点できませんでした。」"""
    if unanswered:
        cause = f"{where} のセルがまだ書かれていない"
    else:
        cause = f"{where} のセルでエラー（{what}、{line}行目）が起きた" if line else f"{where} のセルでエラー（{what}）が起きた"
    if same_question:
        return f"{cause}ため、この問題は採点できませんでした。"
    return f"上の {cause}ため、この問題も採点できなかったのかもしれません。"


def feedback_fold_epochs(first: int, last: int, count: int) -> str:
    """The fold of a long training log's middle epochs: 「Epoch 4〜97 の記録（94 エポック分）を開く」."""
    return f"Epoch {first}〜{last} の記録（{count} エポック分）を開く"


def feedback_fold_lines(count: int) -> str:
    """The fold of a long output's middle lines."""
    return f"途中の {count} 行を開く"
