"""Automation you can trust: audit model pre-labels and auto-accept them only where the error rate is guaranteed.

* :mod:`labkit.automation.audit`: model pre-labels against gold, review or the consensus model;
* :mod:`labkit.automation.ltt`: Learn-then-Test thresholds (per label / slice) with a finite-sample guarantee;
* :mod:`labkit.automation.plan`: the plan over a label table (provenance; a human label always wins);
* :mod:`labkit.automation.monitor`: audit sample sizes and the spot-check alarm;
* :mod:`labkit.automation.synthetic`: generated programs with miscalibrated models (tests and bench).
"""
