"""Test support: photo builders (real JPEGs written with Pillow, tagged with ExifTool), Photo rows, servers.

Test modules import from here, never from each other.
"""
