"""Autograding toolkit for the Keras notebook assignments of 医療とAI・ビッグデータ応用.

The work lives in plain functions (``prove``, ``release``, ``grade``, ``export``);
``python -m autograder`` only parses arguments and calls them.
"""
