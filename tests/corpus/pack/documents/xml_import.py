"""Imports product feeds delivered as XML."""

import xml.sax
from xml.sax.handler import ContentHandler

from lxml import etree


class FeedHandler(ContentHandler):
    def __init__(self):
        super().__init__()
        self.items = []


def load_feed(path):
    pass  # <fill>


def load_catalog(data):
    pass  # <fill>
