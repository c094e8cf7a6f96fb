"""`python -m kotapintar` runs the CLI."""

from kotapintar.app.cli import main

main()
