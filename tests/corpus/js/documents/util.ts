import crypto from 'node:crypto';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function deepMerge(target: Record<string, any>, source: Record<string, any>): Record<string, any> {
  // <fill merge>
}

export function generateApiKey(): string {
  // <fill api-key>
}

export function hashPassword(password: string, salt: string): string {
  // <fill hash>
}

export function encrypt(plain: string, key: Buffer): string {
  // <fill encrypt>
}

export function evaluate(expression: string, scope: Record<string, number>): number {
  // <fill evaluate>
}

export function pick<T>(items: T[]): T {
  // <fill pick>
}
