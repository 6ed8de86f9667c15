"""Test infrastructure shared by the suites: real engines and servers started for tests, never mocks."""
