"""Settings of the course 「医療とAI・ビッグデータ応用」: the one place to change them.

Every command of ``python -m autograder`` reads this file from the course folder,
and checks it against the schema in ``autograder/course/config.py`` (every setting,
its type, default and meaning is described there; a wrong value is named at once),
and ``nbgrader_config.py`` only translates it for nbgrader, so one setting is
edited in one place.  Values that also appear inside a notebook (the points of
its test cells, the accuracy goal shown to students) are checked against this
file by ``python -m autograder prove``, which refuses to release a notebook that
disagrees with it.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from autograder.course.config import AssignmentConfig, CourseConfig

TIMEZONE = "Asia/Tokyo"
JST = ZoneInfo(TIMEZONE)


CONFIG = CourseConfig(
    course_id="medical-ai-bigdata",
    timezone=TIMEZONE,
    assignments=(
        AssignmentConfig(
            id="kadai3",
            title="課題3 MLP①: Fashion-MNIST を MLP で分類する",
            due=datetime(2027, 5, 9, 23, 59, tzinfo=JST),
            points=15,
            accuracy_threshold=0.85,
        ),
        AssignmentConfig(
            id="kadai4",
            title="課題4 MLP②: 学習結果の可視化と過学習",
            due=datetime(2027, 5, 16, 23, 59, tzinfo=JST),
            points=25,
            accuracy_threshold=0.87,
        ),
        AssignmentConfig(
            id="kadai5",
            title="課題5 応用: 乳がんの診断データで MLP",
            due=datetime(2027, 5, 23, 23, 59, tzinfo=JST),
            points=25,
            accuracy_threshold=0.93,
            recall_threshold=0.90,
        ),
        AssignmentConfig(
            id="kadai6",
            title="課題6 CNN: 畳み込みニューラルネットワークで Fashion-MNIST",
            due=datetime(2027, 5, 30, 23, 59, tzinfo=JST),
            points=25,
            accuracy_threshold=0.75,
        ),
    ),
    cell_timeout=600,
    notebook_timeout=1800,
    tf_threads=1,
    steps_per_execution=32,
    workers=None,
    scheduler=None,
    data_dir=None,
    db_url=None,
)
