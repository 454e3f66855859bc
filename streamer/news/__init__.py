"""News: articles and feeds parsed into headlines, the news desk that keeps them, and the
bulletins built from them ahead of air time."""
