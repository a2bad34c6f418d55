"""A knowledge base over the test database, and files written into tmp_path."""

import pytest

from bot.kb import KnowledgeBase

HEADER = "sku,name,category,price,currency,in_stock,attributes,description,url\n"


@pytest.fixture
def kb(db):
    return KnowledgeBase(db)


@pytest.fixture
def write(tmp_path):
    """``write(name, text_or_bytes)``: a file in tmp_path, returned as its path."""
    def make(name, content):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return make
