"""ClassLab's App panels."""
