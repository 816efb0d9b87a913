"""Simulate labeling policies on a model fitted on the program's own history (no Jupyter or GX import).

:mod:`labkit.simulate.model` fits the generative model, :mod:`labkit.simulate.policies` reads policies,
:mod:`labkit.simulate.engine` runs them (many policies x many seeds, deterministic),
:mod:`labkit.simulate.fidelity` says how far to trust it on a program, :mod:`labkit.simulate.report` builds
the policy-simulation report. Import the submodules you need; this package imports nothing heavy.
"""
