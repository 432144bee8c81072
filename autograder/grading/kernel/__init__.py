"""What runs inside the student's grading kernel, in the sandbox: start-up, figure capture, fast Keras, evidence.

Nothing here judges: the kernel is the student's process, so it only records (see ``autograder.grading.verdicts``).
"""
