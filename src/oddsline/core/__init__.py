"""Pure mathematics of logistic regression: numpy and scipy only, no I/O, no pandas.

Nothing in ``core`` imports anything of oddsline outside ``core`` except the exception tree.
"""
