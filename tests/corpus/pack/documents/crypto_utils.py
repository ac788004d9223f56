"""Tokens, password storage and encryption helpers for the accounts service."""

import hashlib
import hmac
import os
import random
import secrets
import ssl
import string

import jwt
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

JWT_KEY = os.environ.get("JWT_KEY", "")


def make_token(length=32):
    pass  # <fill>


def hash_password(password):
    pass  # <fill>


def encrypt(key, data):
    pass  # <fill>


def new_keypair():
    pass  # <fill>


def user_from_token(token):
    pass  # <fill>


def fetch_json(url):
    pass  # <fill>


def tls_context():
    pass  # <fill>


def checksum(path):
    pass  # <fill>
