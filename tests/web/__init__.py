"""Tests of the Twisted web layer on real loopback listeners."""
