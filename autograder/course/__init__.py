"""The course model: a course folder, its settings and where everything lives in it (no TensorFlow, Dask or Flask)."""
from autograder.course.assignment import Assignment
from autograder.course.config import AssignmentConfig, ConfigError, CourseConfig, UnknownAssignment
from autograder.course.model import COURSE_DIR_ENV, Course, CourseError, NotReleased, current_course, load_course

__all__ = ["COURSE_DIR_ENV", "Assignment", "AssignmentConfig", "ConfigError", "Course", "CourseConfig", "CourseError",
           "NotReleased", "UnknownAssignment", "current_course", "load_course"]
