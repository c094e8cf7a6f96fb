"""The public portal: public pages, the public case API and open data."""
