"""Rendering incidents for a terminal (rich). Nothing here decides anything."""
