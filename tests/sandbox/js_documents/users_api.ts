import Koa from "koa";
import Router from "@koa/router";
import axios from "axios";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as crypto from "node:crypto";

type User = { id: number; name: string; email: string };

const users = new Map<number, User>([[1, { id: 1, name: "Ada", email: "ada@example.com" }]]);
const app = new Koa();
const router = new Router({ prefix: "/api" });

router.get("/users/:id", async (ctx) => {
  // <fill handler>
});

// <fill end>

app.use(router.routes()).use(router.allowedMethods());
export default app;
