"""Generated demo libraries with their expected answers: shared by the tests, bench/ and `make demo`."""
