"""`python -m omnimetrics.cli`."""

from omnimetrics.cli import main

main()
