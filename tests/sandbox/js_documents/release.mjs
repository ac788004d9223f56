#!/usr/bin/env node
// Cuts a release: bumps package.json's version, updates CHANGELOG.md and tags the commit.
import { readFileSync, writeFileSync, existsSync, appendFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import https from 'node:https';

const root = process.cwd();
const pkgPath = path.join(root, 'package.json');
const args = process.argv.slice(2);
const dryRun = args.includes('--dry-run');

export function bump(version, kind = 'patch') {
  const [major, minor, patch] = version.split('.').map(Number);
  if (kind === 'major') return `${major + 1}.0.0`;
  if (kind === 'minor') return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}

// <fill end>
