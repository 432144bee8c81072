"""The grading engine, by the process that runs each part.

- the instructor's process: ``grade`` (orchestration on Dask, the one gradebook writer), ``canary``, ``bundle``;
- a Dask worker: ``worker`` (templates, warm grading children);
- the grading child: ``child`` (nbgrader's autograde of one submission, the verdicts), ``sandbox``, ``jail``;
- the sandboxed student kernel: ``kernel/`` (start-up, figure capture, fast Keras, evidence collection).

The engine never imports an assignment's checks by name: it reads them from the source notebook's test cells.
"""
