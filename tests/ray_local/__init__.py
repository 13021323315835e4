"""Tests that share one local Ray started in the test process (`conftest.local_ray`)."""
