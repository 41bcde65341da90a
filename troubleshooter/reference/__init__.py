"""The reference browser, search, key simulator and key builder pages, and
reports of mistakes in the reference data."""
