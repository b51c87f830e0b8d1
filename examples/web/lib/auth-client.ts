"use client";
// Better Auth's browser client, on this app's own origin (/api/auth), with the jwt client plugin
// for authClient.token(): the JWT taskgraph wants (never session.token, an opaque id).
import { jwtClient } from "better-auth/client/plugins";
import { createAuthClient } from "better-auth/react";

export const authClient = createAuthClient({ plugins: [jwtClient()] });
