"""The submission portal (``python -m autograder serve``): students upload, grading runs, feedback comes back.

``store`` keeps accounts and uploads (SQLAlchemy: SQLite in the course folder by default),
``queue`` grades uploads one after another with the same ``grade`` as the command line, and
``app`` is the Flask application (Japanese pages for students and the instructor).
"""
