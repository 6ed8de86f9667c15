"""The template itself: which file is whose (parts.yaml), how big each part is, and how a project starts from the
template and is brought to its newer versions (copier)."""
