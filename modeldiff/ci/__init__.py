"""Fitting modeldiff into a project's workflow: its configuration (`[tool.modeldiff]`),
defaults inside a checkout (merge-base with the default branch vs the work tree), gates
(`--fail-on`), where each change is defined (file:line), and the command-line plumbing
that connects them to click."""
