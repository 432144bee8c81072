"""Autograding toolkit for the Keras notebook assignments of 医療とAI・ビッグデータ応用.

The work lives in plain functions (``prove``, ``release``, ``grade``, ``export``);
``python -m autograder`` only parses arguments and calls them.
"""
import sys

# jsonschema (which nbformat imports to validate notebooks) imports the optional IRI checker rfc3987_syntax when it is
# installed, and that builds a Lark grammar at import: 1.3 s of CPU in every process that imports nbformat (serve
# before its web answers, each Dask worker, each grading child).  nbformat's schema checks no IRI, so it is left out:
# jsonschema then skips that format, as it does when the package is absent.
sys.modules.setdefault("rfc3987_syntax", None)
