"""From a run's results and the committee's evidence to the verdict: completeness, coverage, the acceptance
criteria and the evidence files."""
