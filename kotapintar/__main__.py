"""`python -m kotapintar` runs the CLI."""

from kotapintar.cli import main

main()
