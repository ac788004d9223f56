"""Nightly maintenance tasks, started from cron."""
import datetime
import glob
import os
import subprocess
import tempfile

KEEP_DAYS = 14
LOG_DIR = "/var/log/app"

# <fill>


def rotate_logs():
    cutoff = datetime.datetime.now() - datetime.timedelta(days=KEEP_DAYS)
    for path in glob.glob(os.path.join(LOG_DIR, "*.log.*")):
        if datetime.datetime.fromtimestamp(os.path.getmtime(path)) < cutoff:
            os.remove(path)


def vacuum():
    """Compact the database."""
    pass  # <fill>


if __name__ == "__main__":
    rotate_logs()
    vacuum()
