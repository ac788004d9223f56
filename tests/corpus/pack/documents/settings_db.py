"""Settings and the database connection of the reporting job."""

import os

import psycopg2
from sqlalchemy import create_engine

DEBUG = os.environ.get("DEBUG") == "1"
# <fill>


def connect():
    pass  # <fill>


def check_admin(username, password):
    pass  # <fill>
