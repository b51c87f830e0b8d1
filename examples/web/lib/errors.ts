// Turning Apollo errors into sentences next to the right field.
import { CombinedGraphQLErrors, ServerError } from "@apollo/client/errors";

export interface Explained {
  /** Messages by input field (extensions.field: title, description, dueAt, ...). */
  fields: Record<string, string>;
  /** What does not belong to a field. */
  general: string | null;
}

const codeText: Record<string, string> = {
  UNAUTHENTICATED: "signed out — sign in again",
  NOT_FOUND: "it no longer exists (deleted elsewhere?)",
  CONFLICT: "that name is taken",
  REQUEST_TIMEOUT: "the server took too long; try again",
  TOO_MANY_SUBSCRIPTIONS: "too many open tabs for live updates",
};

export function explain(error: unknown): Explained {
  const out: Explained = { fields: {}, general: null };
  if (CombinedGraphQLErrors.is(error)) {
    for (const e of error.errors) {
      const code = typeof e.extensions?.code === "string" ? e.extensions.code : "";
      const field = typeof e.extensions?.field === "string" ? e.extensions.field : "";
      if (code === "BAD_USER_INPUT" && field) {
        out.fields[field] = e.message;
      } else {
        out.general = codeText[code] ?? e.message;
      }
    }
    return out;
  }
  if (ServerError.is(error)) {
    out.general = error.statusCode === 401 ? codeText.UNAUTHENTICATED! : `the server answered ${error.statusCode}`;
    return out;
  }
  if (error instanceof TypeError) {
    out.general = "cannot reach the API; check your connection and try again";
    return out;
  }
  out.general = error instanceof Error ? error.message : String(error);
  return out;
}
