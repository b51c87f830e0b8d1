// Applying a change to the Apollo cache: the same for this tab's own mutations and for the
// events of the taskEvents subscription (another tab, another device), so applying twice is a no-op.
import type { ApolloCache, Reference } from "@apollo/client";
import type { StoreObject } from "@apollo/client/utilities";
import { TagFragment, TaskFields } from "./operations";
import type { TaskFieldsFragment } from "@/gql/graphql";

interface ConnectionShape {
  totalCount?: number;
  edges: Array<{ __typename?: string; cursor: string; node: Reference }>;
  pageInfo?: StoreObject;
}

/** The filter a stored tasks field was fetched with ("tasks:{"filter":{...}}" → {...}). */
function filterOf(storeFieldName: string): Record<string, unknown> | null {
  const i = storeFieldName.indexOf(":");
  if (i < 0) return null;
  try {
    const args = JSON.parse(storeFieldName.slice(i + 1)) as { filter?: Record<string, unknown> | null };
    return args.filter ?? null;
  } catch {
    return null;
  }
}

function filters(f: Record<string, unknown> | null): boolean {
  if (!f) return false;
  return Object.entries(f).some(([k, v]) => k !== "tagMatch" && v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0) && v !== "");
}

/** A task was created: it heads every unfiltered list (newest first); filtered lists are dropped
 * from the cache and fetched again when shown, since only the server knows whether it matches. */
export function taskCreated(cache: ApolloCache, task: TaskFieldsFragment): void {
  const ref = cache.writeFragment({ fragment: TaskFields, fragmentName: "TaskFields", data: task });
  if (!ref) return;
  cache.modify({
    fields: {
      tasks(existing: ConnectionShape | Reference, { storeFieldName, readField, DELETE }) {
        if (filters(filterOf(storeFieldName))) return DELETE;
        const conn = existing as ConnectionShape;
        if (conn.edges.some((e) => readField("id", e.node) === task.id)) return conn;
        return {
          ...conn,
          totalCount: typeof conn.totalCount === "number" ? conn.totalCount + 1 : conn.totalCount,
          edges: [{ __typename: "TaskEdge", cursor: "", node: ref }, ...conn.edges],
        };
      },
    },
  });
}

/** A task was changed: the normalised Task is updated in place (every list shows it); filtered
 * lists are fetched again, since the change may move it in or out of them. */
export function taskUpdated(cache: ApolloCache, task: TaskFieldsFragment): void {
  cache.writeFragment({ fragment: TaskFields, fragmentName: "TaskFields", data: task });
  cache.modify({
    fields: {
      tasks(existing: ConnectionShape | Reference, { storeFieldName, DELETE }) {
        return filters(filterOf(storeFieldName)) ? DELETE : existing;
      },
    },
  });
}

/** A task was deleted: out of every list, its count down by one. */
export function taskDeleted(cache: ApolloCache, id: string): void {
  const cacheId = cache.identify({ __typename: "Task", id });
  cache.modify({
    fields: {
      tasks(existing: ConnectionShape | Reference, { readField }) {
        const conn = existing as ConnectionShape;
        const edges = conn.edges.filter((e) => readField("id", e.node) !== id);
        if (edges.length === conn.edges.length) return conn;
        return { ...conn, edges, totalCount: typeof conn.totalCount === "number" ? conn.totalCount - 1 : conn.totalCount };
      },
    },
  });
  if (cacheId) cache.evict({ id: cacheId });
  cache.gc();
}

export interface TagShape {
  __typename?: "Tag";
  id: string;
  name: string;
  color: string | null;
}

/** A tag was created or changed: stored, and added to the tags list if new. */
export function tagChanged(cache: ApolloCache, tag: TagShape): void {
  const ref = cache.writeFragment({
    id: cache.identify({ __typename: "Tag", id: tag.id }),
    fragment: TagFragment,
    data: { id: tag.id, name: tag.name, color: tag.color },
  });
  if (!ref) return;
  cache.modify({
    fields: {
      tags(existing: readonly Reference[] | Reference, { readField }) {
        const list = existing as readonly Reference[];
        if (list.some((r) => readField("id", r) === tag.id)) return list;
        return [...list, ref];
      },
    },
  });
}

/** A tag was deleted: gone from the tags list and from every task (its tasks also get an event). */
export function tagDeleted(cache: ApolloCache, id: string): void {
  const cacheId = cache.identify({ __typename: "Tag", id });
  if (cacheId) cache.evict({ id: cacheId });
  cache.gc();
}
