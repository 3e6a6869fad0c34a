"""Scenario scripts: parsing (`script`), playing (`runner`)."""
