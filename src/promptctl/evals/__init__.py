"""The eval engine: suites, datasets, scorers, statistics, reports and history."""
