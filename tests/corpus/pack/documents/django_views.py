"""Views of the shop's Django app."""

import logging
import os

from django.conf import settings
from django.db import connection
from django.http import FileResponse, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme

from .models import Article, Order

logger = logging.getLogger(__name__)


def search(request):
    pass  # <fill>


def article(request, slug):
    pass  # <fill>


def go(request):
    pass  # <fill>


def invoice(request, number):
    pass  # <fill>


def order_report(request):
    pass  # <fill>
