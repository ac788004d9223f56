"""The inventory API."""

import logging
import sqlite3
import subprocess

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

app = FastAPI()
log = logging.getLogger("inventory")


def get_db():
    return sqlite3.connect("inventory.db")


@app.get("/items/{item_id}")
async def read_item(item_id: str, q: str | None = None):
    pass  # <fill>


@app.get("/go")
async def go(next: str):
    pass  # <fill>


@app.post("/hooks")
async def hook(request: Request):
    pass  # <fill>


@app.get("/count/{item_id}")
async def count(item_id: int, db=Depends(get_db)):
    pass  # <fill>
