"""Question answering with cited source paragraphs over Chinese government work reports."""
