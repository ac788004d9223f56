import type { Request, Response } from 'express';
import { Router } from 'express';
import { Pool } from 'pg';
import axios from 'axios';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';

const pool = new Pool({ connectionString: process.env.DATABASE_URL });
const REPORTS_DIR = path.resolve(__dirname, '../reports');
const BILLING_API = 'https://billing.internal.example.com';

export interface Invoice {
  id: string;
  customerId: string;
  total: number;
}

export const router = Router();

router.get('/invoices', async (req: Request, res: Response) => {
  // <fill invoices>
});

router.get('/reports/:name', async (req: Request, res: Response) => {
  // <fill reports>
});

router.post('/webhooks/forward', async (req: Request, res: Response) => {
  // <fill forward>
});

export async function fetchInvoice(id: string): Promise<Invoice> {
  // <fill fetch-invoice>
}

export class TokenService {
  private readonly secret: Buffer;

  constructor(secret: Buffer) {
    this.secret = secret;
  }

  issue(userId: string): string {
    // <fill issue>
  }
}

export function makeClient() {
  // <fill client>
}
