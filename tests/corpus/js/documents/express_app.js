'use strict';

const express = require('express');
const path = require('path');
const fs = require('fs');
const crypto = require('crypto');
const { exec, execFile, spawn } = require('child_process');
const mysql = require('mysql2/promise');
const escapeHtml = require('escape-html');

const app = express();
app.use(express.json());

const pool = mysql.createPool({ host: process.env.DB_HOST, user: 'app', database: 'shop' });
const UPLOADS = path.join(__dirname, 'uploads');

app.get('/health', (req, res) => {
  res.json({ ok: true });
});

app.get('/tools/ping', (req, res) => {
  // <fill ping>
});

app.get('/products', async (req, res) => {
  // <fill products>
});

app.get('/files/:name', (req, res) => {
  // <fill files>
});

app.get('/login/done', (req, res) => {
  // <fill redirect>
});

app.get('/greet', (req, res) => {
  // <fill greet>
});

app.post('/calc', (req, res) => {
  // <fill calc>
});

app.post('/users', async (req, res) => {
  const { email, password } = req.body;
  // <fill register>
});

app.get('/preview', async (req, res) => {
  // <fill preview>
});

app.post('/settings', (req, res) => {
  const settings = loadSettings(req.user.id);
  // <fill settings>
});

function loadSettings(userId) {
  return { theme: 'light', userId };
}

module.exports = app;
