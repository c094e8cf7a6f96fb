"""The city's reference data: regions, agencies, services and units, and how they are loaded and looked up."""
