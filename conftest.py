"""Root conftest: loads the poc-harness pytest plugin for every run in this checkout."""

pytest_plugins = ["poc_harness.plugin"]
