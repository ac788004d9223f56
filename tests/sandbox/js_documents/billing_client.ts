/**
 * Client for the billing service's REST API, used by the nightly sync and the admin CLI.
 */
import { readFile, writeFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as https from "node:https";
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { execFile } from "node:child_process";

export interface Invoice {
  id: string;
  amount: number;
  currency: string;
  issuedAt: string;
}

const BASE_URL = process.env.BILLING_URL ?? "https://billing.internal.example.com";

export class BillingClient {
  private readonly baseUrl: string;
  private readonly token: string;

  constructor(baseUrl: string = BASE_URL, token: string = process.env.BILLING_TOKEN ?? "") {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  async get<T>(route: string): Promise<T> {
    const res = await fetch(this.baseUrl + route, { headers: { Authorization: `Bearer ${this.token}` } });
    if (!res.ok) throw new Error(`GET ${route}: ${res.status}`);
    return (await res.json()) as T;
  }

  // <fill method>
}

export function formatAmount(invoice: Invoice): string {
  return `${(invoice.amount / 100).toFixed(2)} ${invoice.currency}`;
}

export async function syncInvoices(client: BillingClient, since: Date): Promise<Invoice[]> {
  // <fill sync>
}

// <fill end>
