"use client";
// Signed in: filters, the task list (newest first, "Load more"), the form, tags, live updates.
import { useApolloClient, useQuery, useSubscription } from "@apollo/client/react";
import { useEffect, useMemo, useState } from "react";
import type { Priority, TaskFieldsFragment, TaskFilter } from "@/gql/graphql";
import { explain } from "@/lib/errors";
import { tagChanged, tagDeleted, taskCreated, taskDeleted, taskUpdated } from "@/lib/live";
import { MeAndTagsQuery, TagEventsSubscription, TaskEventsSubscription, TasksQuery } from "@/lib/operations";
import { Banner } from "./Banner";
import { Filters, type FilterState } from "./Filters";
import { TagManager } from "./TagManager";
import { TaskForm } from "./TaskForm";
import { TaskItem } from "./TaskItem";

export const PAGE_SIZE = 20;

function toFilter(f: FilterState): TaskFilter | null {
  const filter: TaskFilter = {};
  if (f.completed !== "all") filter.completed = f.completed === "done";
  if (f.priorities.length) filter.priorities = f.priorities;
  if (f.tagIds.length) filter.tagIds = f.tagIds;
  if (f.search.trim()) filter.search = f.search.trim();
  return Object.keys(filter).length ? filter : null;
}

export function TaskApp({ email, onSignOut, reconnects }: { email: string; onSignOut: () => Promise<void>; reconnects: number }) {
  const client = useApolloClient();
  const [filterState, setFilterState] = useState<FilterState>({ completed: "all", priorities: [], tagIds: [], search: "" });
  const [search, setSearch] = useState("");
  const [editing, setEditing] = useState<TaskFieldsFragment | "new" | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);

  // The search box waits for a pause in typing before it asks the server.
  useEffect(() => {
    const t = setTimeout(() => setFilterState((s) => (s.search === search ? s : { ...s, search })), 250);
    return () => clearTimeout(t);
  }, [search]);

  const filter = useMemo(() => toFilter(filterState), [filterState]);
  const me = useQuery(MeAndTagsQuery);
  const tasks = useQuery(TasksQuery, {
    variables: { first: PAGE_SIZE, filter },
    fetchPolicy: "cache-and-network",
    nextFetchPolicy: "cache-first",
    notifyOnNetworkStatusChange: true,
  });

  // Another tab's or device's changes, into the cache.
  useSubscription(TaskEventsSubscription, {
    onData: ({ data, client: c }) => {
      const ev = data.data?.taskEvents;
      if (!ev) return;
      if (ev.kind === "DELETED") taskDeleted(c.cache, ev.id);
      else if (ev.task && ev.kind === "CREATED") taskCreated(c.cache, ev.task);
      else if (ev.task) taskUpdated(c.cache, ev.task);
    },
  });
  useSubscription(TagEventsSubscription, {
    onData: ({ data, client: c }) => {
      const ev = data.data?.tagEvents;
      if (!ev) return;
      if (ev.kind === "DELETED") tagDeleted(c.cache, ev.id);
      else if (ev.tag) tagChanged(c.cache, ev.tag);
    },
  });

  // The socket came back after a drop: what changed meanwhile was not sent, so ask again.
  useEffect(() => {
    // Failures show in the queries themselves (their error state), not here.
    if (reconnects > 0) client.refetchQueries({ include: "active" }).catch(() => {});
  }, [reconnects, client]);

  const tags = me.data?.tags ?? [];
  const conn = tasks.data?.tasks;
  const listError = tasks.error ? explain(tasks.error).general : null;

  const loadMore = async () => {
    if (!conn?.pageInfo.endCursor) return;
    setLoadingMore(true);
    try {
      await tasks.fetchMore({ variables: { after: conn.pageInfo.endCursor } });
    } catch {
      // shown by the list's error banner
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <main>
      <header className="top">
        <h1>Tasks</h1>
        <span className="who">{me.data?.me.email ?? email}</span>
        <button type="button" className="secondary" onClick={() => onSignOut().catch(() => window.location.reload())}>
          Sign out
        </button>
      </header>

      <div className="layout">
        <aside>
          <Filters
            tags={tags}
            value={filterState}
            search={search}
            onSearch={setSearch}
            onChange={(f) => setFilterState({ ...f, search: filterState.search })}
          />
          <TagManager tags={tags} />
        </aside>

        <section aria-label="Task list">
          <div className="row">
            <button type="button" onClick={() => setEditing("new")} disabled={editing !== null}>
              New task
            </button>
            <p role="status" className="count">
              {conn ? `${conn.totalCount} ${conn.totalCount === 1 ? "task" : "tasks"}` : "\u00a0"}
            </p>
          </div>

          {editing !== null && (
            <TaskForm key={editing === "new" ? "new" : editing.id} task={editing === "new" ? null : editing} tags={tags} onDone={() => setEditing(null)} />
          )}

          {listError && <Banner kind="error">Could not load your tasks: {listError}</Banner>}
          {!conn && !listError && <p aria-busy="true">Loading tasks…</p>}
          {conn && conn.edges.length === 0 && <p className="empty">{filter ? "No task matches these filters." : "No tasks yet. Add one with “New task”."}</p>}
          {conn && conn.edges.length > 0 && (
            <ul className="tasks" aria-label="Tasks">
              {conn.edges.map(({ node }) => (
                <TaskItem key={node.id} task={node} onEdit={() => setEditing(node)} />
              ))}
            </ul>
          )}
          {conn?.pageInfo.hasNextPage && (
            <button type="button" className="secondary more" onClick={() => void loadMore()} disabled={loadingMore}>
              Load more
            </button>
          )}
        </section>
      </div>
    </main>
  );
}

export const priorityLabel: Record<Priority, string> = { LOW: "Low", MEDIUM: "Medium", HIGH: "High", URGENT: "Urgent" };
