"""Server-rendered dispatch screens: the 112 call-taker console and the field crew's page."""
