'use strict';
// HTTP API of the reports service.
const express = require('express');
const fs = require('fs');
const path = require('path');
const os = require('os');
const crypto = require('crypto');
const { execFile } = require('child_process');

const app = express();
app.use(express.json({ limit: '1mb' }));

const UPLOADS = path.join(__dirname, 'uploads');
const reports = new Map();

app.get('/health', (req, res) => {
  res.json({ ok: true, uptime: process.uptime() });
});

app.post('/api/reports', (req, res) => {
  // <fill handler>
});

// <fill end>

module.exports = app;
