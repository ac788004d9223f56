"""A small Flask service: files, search, accounts and a few integrations."""

import json
import logging
import os
import re
import sqlite3
import subprocess
from urllib.parse import urlparse

import requests
from flask import Flask, abort, jsonify, make_response, redirect, render_template, request, send_file, url_for
from markupsafe import escape
from werkzeug.utils import secure_filename

app = Flask(__name__)
log = logging.getLogger(__name__)
UPLOADS = "/srv/uploads"
ALLOWED_HOSTS = {"docs.example.com", "status.example.com"}
LANGUAGES = {"en", "fr", "de"}


def get_db():
    return sqlite3.connect("app.db")


@app.route("/files/download")
def download():
    pass  # <fill>


@app.route("/search")
def search():
    pass  # <fill>


@app.route("/login/done")
def login_done():
    pass  # <fill>


@app.route("/tools/ping")
def ping():
    pass  # <fill>


@app.route("/user/<username>")
def profile(username):
    pass  # <fill>


@app.route("/import", methods=["POST"])
def import_feed():
    pass  # <fill>


@app.route("/settings/lang")
def set_lang():
    pass  # <fill>


@app.route("/logs/grep")
def grep_logs():
    pass  # <fill>


@app.route("/preview")
def preview():
    pass  # <fill>


@app.route("/calc")
def calc():
    pass  # <fill>


@app.route("/session/restore", methods=["POST"])
def restore_session():
    pass  # <fill>


@app.route("/login", methods=["POST"])
def login():
    pass  # <fill>


@app.route("/health")
def health():
    return jsonify(status="ok")
