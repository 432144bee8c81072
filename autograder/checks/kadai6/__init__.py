"""課題6 (kadai6): a small CNN on Fashion-MNIST, whose hidden tests are plain Python in the notebook itself.

Unlike kadai3–kadai5, this folder holds no check functions: each graded cell of ``source/kadai6/kadai6.ipynb``
writes its hidden test the way an nbgrader instructor does, ``assert`` statements with Japanese messages and
calls into the shared check library (``autograder.checks.structure``, ``datasets``, ``history``, ``figures``).
``autograder.grading.hidden_tests`` runs those blocks in the grading process on the evidence of the variables
they read, never in the student's kernel.  The accuracy goal is the notebook's ``ACCURACY_GOAL`` (written once,
outside the solution, so the engine takes the instructor's value) and ``accuracy_threshold`` in
``course_config.py``; ``python -m autograder prove`` refuses the notebook when the two differ.

This folder exists for what lives beside the checks of every assignment: ``examples.py`` (typical mistakes,
valid variants and the demo's students).

kadai6 は隠しテストをノートブックの中に普通の assert で書いた課題です。ここには例（examples.py）だけを置きます。
"""
