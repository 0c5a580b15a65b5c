"""The Place Board's quarterly summary and board pack."""
