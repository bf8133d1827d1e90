"""``python -m leadtocash.cli`` runs the console script."""

from leadtocash.cli import main

main()
