"""A maintenance command for the job queue."""

import argparse
import os
import sqlite3
import subprocess
import sys

DB = "jobs.db"
# <fill>
