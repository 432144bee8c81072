"""Keeps every matplotlib figure the student's code closes, so checks can read it afterwards.

In Jupyter, ``plt.show()`` and the end of a cell display the figure and then close
it (``plt.close('all')``), after which pyplot no longer knows it.  Installed at the
start of the grading kernel (an IPython startup file written by ``autograder.grading.kernel.startup``),
this module wraps matplotlib's figure registry so that each figure is remembered,
in order, at the moment it is closed.  The Figure objects keep their axes, lines
and legends, which is what the figure checks read.

It also has each legend keep the handles it was made from (``legend.HANDLES``): matplotlib's own
``legend_handles`` are copies drawn in the legend box, so without this a legend could not say which line
each of its entries names (``plt.legend(['loss', 'val_loss'])``, ``fig.legend()``, seaborn's proxies).
"""
from __future__ import annotations

_closed: list = []
_installed = False

HANDLES = "_autograder_handles"
"""Attribute of a matplotlib ``Legend``: the handles it was made from, in the order of its texts."""


def _keep_legend_handles() -> None:
    from matplotlib.legend import Legend

    made = Legend.__init__

    def init_keeping_handles(self, parent, handles, labels, *args, **kwargs):
        made(self, parent, handles, labels, *args, **kwargs)
        setattr(self, HANDLES, list(handles))

    Legend.__init__ = init_keeping_handles


def install() -> None:
    """Start remembering figures as they are closed (idempotent)."""
    global _installed
    if _installed:
        return
    from matplotlib._pylab_helpers import Gcf

    destroy, destroy_all = Gcf.destroy.__func__, Gcf.destroy_all.__func__

    def remember(manager) -> None:
        figure = getattr(getattr(manager, "canvas", None), "figure", None)
        if figure is not None and (not _closed or _closed[-1] is not figure):
            _closed.append(figure)

    def destroy_remembering(cls, num):
        remember(num if hasattr(num, "canvas") else cls.figs.get(num))
        return destroy(cls, num)

    def destroy_all_remembering(cls):
        for manager in list(cls.figs.values()):
            remember(manager)
        return destroy_all(cls)

    Gcf.destroy = classmethod(destroy_remembering)
    Gcf.destroy_all = classmethod(destroy_all_remembering)
    _keep_legend_handles()
    _installed = True


def is_installed() -> bool:
    return _installed


def figures() -> list:
    """Every figure seen so far, oldest first: those closed, then those still open."""
    import matplotlib.pyplot as plt

    still_open = [plt.figure(num) for num in plt.get_fignums()]
    return _closed + [figure for figure in still_open if figure not in _closed]
