"""The instructor's tools around grading: prove and release, collect, export, feedback, report, solutions, demo."""
