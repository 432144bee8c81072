"""The submission portal (``python -m autograder serve``): students upload, grading runs, feedback comes back.

``store`` keeps accounts and uploads (SQLAlchemy: SQLite in the course folder by default),
``queue`` grades uploads one after another with the same ``grade`` as the command line, and
``app`` builds the Flask application, whose pages are blueprints by audience (``auth``, ``student``,
``instructor``, ``manual_pages``, ``regrades``: Japanese for students, bilingual for the instructor) sharing
``web``'s guards and this app's objects.
"""
